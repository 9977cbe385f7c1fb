import { Claims, Permissions, PermissionsGuard, Public, Roles, RolesGuard, type VerifiedClaims } from '@app/jwt-rotation';
import { UseGuards } from '@nestjs/common';
import { Args, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';

/** Schema first: the types live here, the resolvers below. */
export const TYPE_DEFS = /* GraphQL */ `
  type Me {
    sub: String!
    roles: [String!]!
    "Only for tokens with the admin role: a field resolver behind RolesGuard."
    adminNote: String
  }
  type Article {
    title: String!
    author: String!
  }
  type Query {
    me: Me!
    health: String!
  }
  type Mutation {
    createArticle(title: String!): Article!
  }
`;

interface Me {
  sub: string;
  roles: string[];
}

/** The same guards, claims and decorators as the HTTP controllers; JwtGuard runs for every resolver as APP_GUARD. */
@Resolver('Me')
export class MeResolver {
  @Query('me')
  me(@Claims() claims: VerifiedClaims<{ roles?: unknown }>): Me {
    return { sub: claims.sub ?? '', roles: Array.isArray(claims.roles) ? claims.roles.filter((r) => typeof r === 'string') : [] };
  }

  @UseGuards(RolesGuard)
  @Roles('admin')
  @ResolveField('adminNote')
  adminNote(@Parent() me: Me): string {
    return `${me.sub} is an admin`;
  }
}

@Resolver()
export class ArticlesResolver {
  @Public()
  @Query('health')
  health(): string {
    return 'ok';
  }

  @UseGuards(PermissionsGuard)
  @Permissions('articles:write')
  @Mutation('createArticle')
  createArticle(@Args('title') title: string, @Claims('sub') author: string): { title: string; author: string } {
    return { title, author };
  }
}
