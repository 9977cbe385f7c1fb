import { Claims, JwtGuard, JwtRotationModule, Public, TokenFrom, TokenService } from '@app/jwt-rotation';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { CacheModule } from '@nestjs/cache-manager';
import { Controller, Get, type INestApplication, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { GraphQLModule, Query, Resolver } from '@nestjs/graphql';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import request from 'supertest';
import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from './support/http';
import { connected, emitWithAck, listen, socketTo } from './support/socket';

const ISSUER = 'https://mixed.test';

@Controller()
class MixedController {
  @Get('whoami')
  whoami(@Claims('sub') sub: string): { sub: string } {
    return { sub };
  }

  @Public()
  @Get('open')
  open(): string {
    return 'open';
  }

  @TokenFrom({ cookie: 'access_token' })
  @Get('cookie')
  cookie(@Claims('sub') sub: string): { sub: string } {
    return { sub };
  }

  @TokenFrom((context) => context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-token'])
  @Get('custom')
  custom(@Claims('sub') sub: string): { sub: string } {
    return { sub };
  }
}

@Resolver()
class MixedResolver {
  @Query('whoami')
  whoami(@Claims('sub') sub: string): string {
    return sub;
  }

  @Public()
  @Query('open')
  open(): string {
    return 'open';
  }
}

/** No SocketIoAuth here: only the global JwtGuard, which used to answer every gateway message with "Internal server error". */
@WebSocketGateway()
class MixedGateway {
  @SubscribeMessage('whoami')
  whoami(@Claims('sub') sub: string): { sub: string } {
    return { sub };
  }

  @Public()
  @SubscribeMessage('open')
  open(): string {
    return 'open';
  }
}

@Module({
  imports: [
    ScheduleModule.forRoot(),
    CacheModule.register({ isGlobal: true }),
    JwtRotationModule.forRoot({ issuer: ISSUER }),
    GraphQLModule.forRoot<ApolloDriverConfig>({
      driver: ApolloDriver,
      typeDefs: 'type Query { whoami: String!, open: String! }',
      context: ({ req }: { req: unknown }) => ({ req }),
    }),
  ],
  controllers: [MixedController],
  providers: [MixedResolver, MixedGateway, { provide: APP_GUARD, useClass: JwtGuard }],
})
class MixedModule {}

describe('a mixed app (HTTP + GraphQL + gateway) with JwtGuard once as APP_GUARD', () => {
  let app: INestApplication;
  let url: string;
  let token: string;
  const sockets: Socket[] = [];
  const open = (options: Parameters<typeof socketTo>[1]) => {
    const socket = socketTo(url, options);
    sockets.push(socket);
    return socket;
  };
  const gql = (query: string, authorization?: string) => {
    const req = request(app.getHttpServer()).post('/graphql');
    if (authorization) req.set('Authorization', authorization);
    return req.send({ query });
  };

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [MixedModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    url = await listen(app);
    token = await app.get(TokenService).signAsync({}, { subject: 'carol' });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(() => app?.close());

  it('protects HTTP routes unless @Public()', async () => {
    await request(app.getHttpServer()).get('/whoami').expect(401);
    expect((await request(app.getHttpServer()).get('/whoami').set('Authorization', bearer(token)).expect(200)).body).toEqual({
      sub: 'carol',
    });
    await request(app.getHttpServer()).get('/open').expect(200);
  });

  it('reads the token from a named cookie or a function where @TokenFrom() says, and never from the query string', async () => {
    const http = () => request(app.getHttpServer());
    expect((await http().get('/cookie').set('Cookie', `theme=dark; access_token=${token}`).expect(200)).body).toEqual({ sub: 'carol' });
    // That route's only source is the cookie: the header is not looked at.
    await http().get('/cookie').set('Authorization', bearer(token)).expect(401);
    await http().get('/cookie').set('Cookie', 'access_token=not%20a%20token').expect(401);
    expect((await http().get('/custom').set('X-Token', token).expect(200)).body).toEqual({ sub: 'carol' });
    await http().get(`/whoami?access_token=${token}`).expect(401);
    await http()
      .get(`/whoami?authorization=${encodeURIComponent(bearer(token))}`)
      .expect(401);
  });

  it('protects resolvers unless @Public(), field by field', async () => {
    const refused = await gql('{ open whoami }').expect(200);
    expect(refused.body.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual(['UNAUTHENTICATED']);
    expect((await gql('{ open }').expect(200)).body.data).toEqual({ open: 'open' });
    expect((await gql('{ open whoami }', bearer(token)).expect(200)).body.data).toEqual({ open: 'open', whoami: 'carol' });
  });

  it('protects gateway messages unless @Public(), with a coded exception instead of "Internal server error"', async () => {
    const anonymous = open({});
    expect(await connected(anonymous)).toEqual({ connected: true });
    expect(await emitWithAck(anonymous, 'open')).toEqual({ ack: 'open' });
    expect(await emitWithAck(anonymous, 'whoami')).toEqual({
      exception: { status: 'error', code: 'UNAUTHENTICATED', reason: 'ERR_TOKEN_MISSING', message: 'Authentication required' },
    });
    const authenticated = open({ token });
    expect(await connected(authenticated)).toEqual({ connected: true });
    expect(await emitWithAck(authenticated, 'whoami')).toEqual({ ack: { sub: 'carol' } });
  });
});
