import { CacheModule } from '@nestjs/cache-manager';
import {
  type CanActivate,
  Controller,
  type DynamicModule,
  type ExecutionContext,
  Get,
  Inject,
  Injectable,
  Module,
  Req,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import { ScheduleModule } from '@nestjs/schedule';
import type { Algorithm as JsonWebTokenAlgorithm } from 'jsonwebtoken';
import type { KeyObject } from 'node:crypto';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { JwtGuard, JwtRotationModule, RolesGuard, Roles, type JwtAlgorithm } from '../../libs/jwt-rotation/src';
import { KeyRotationService } from '../../libs/jwt-rotation/src/keys/key-rotation.service';
import { benchAlgorithm, type BenchKeys, type Floor } from './algorithms';
import { readSigningKey } from './key-material';
import { AUDIENCE, ISSUER, REQUIRED_ROLE } from './shape';

export interface BenchConfig {
  algorithm: JwtAlgorithm;
  /** Rotation interval of the key ring; the library default (15d) when unset. */
  rotationInterval?: string;
}

export const BenchConfigToken = Symbol('BENCH_CONFIG');

/** Key forms of the key signing at startup, for the libraries compared (they do not rotate). */
export const BENCH_KEYS = Symbol('BENCH_KEYS');
/** The ring's signing key at startup as node:crypto keys (the libraries compared are given KeyObjects, their fastest form). */
type BenchKeyObjects = BenchKeys;

interface BenchRequest {
  headers: Record<string, string | string[] | undefined>;
  user?: unknown;
}

/** The library as an app sets it up: ScheduleModule, the in-memory CacheModule, JwtRotationModule.forRoot. */
@Module({})
export class BenchCoreModule {
  static register(config: BenchConfig): DynamicModule {
    return {
      module: BenchCoreModule,
      imports: [
        ScheduleModule.forRoot(),
        CacheModule.register({ isGlobal: true }),
        JwtRotationModule.forRoot({
          issuer: ISSUER,
          audiences: { default: AUDIENCE },
          algorithm: config.algorithm,
          ...(config.rotationInterval ? { rotationInterval: config.rotationInterval } : {}),
          isGlobal: true,
        }),
      ],
      providers: [
        {
          provide: BENCH_KEYS,
          useFactory: async (moduleRef: ModuleRef, rotation: KeyRotationService): Promise<BenchKeyObjects> => {
            await rotation.reconcile();
            const { alg, jwk } = await readSigningKey(moduleRef);
            return benchAlgorithm(alg).keys(jwk);
          },
          inject: [ModuleRef, KeyRotationService],
        },
      ],
      exports: [BENCH_KEYS],
    };
  }
}

/** What /bare and /noop answer: the claims of the bench token, so every route sends the same body. */
@Injectable()
export class ResponseClaims {
  value: unknown = {};
}

/** Reference guard: only checks that a Bearer credential is present. */
@Injectable()
export class BearerPresentGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<BenchRequest>().headers.authorization;
    if (typeof header !== 'string' || !/^Bearer ./i.test(header)) throw new UnauthorizedException();
    return true;
  }
}

/**
 * The crypto floor as a guard: the Bearer token's signature checked with node:crypto and the
 * bench key (the micro bench's floor), no JSON and no claims. No verifying guard can cost less, so
 * its CPU over /noop is what the signature alone costs inside a server.
 */
@Injectable()
export class CryptoFloorGuard implements CanActivate {
  private readonly floor: Floor;

  constructor(@Inject(BENCH_KEYS) keys: BenchKeyObjects, @Inject(BenchConfigToken) config: BenchConfig) {
    this.floor = benchAlgorithm(config.algorithm).floor(keys);
  }

  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<BenchRequest>().headers.authorization;
    if (typeof header !== 'string' || !/^Bearer ./i.test(header) || !this.floor.verify(header.slice(7))) throw new UnauthorizedException();
    return true;
  }
}

/** The guard the @nestjs/jwt docs show: JwtService.verifyAsync on the Bearer token. */
@Injectable()
export class NestJwtGuard implements CanActivate {
  private readonly algorithms: JsonWebTokenAlgorithm[];

  constructor(
    private readonly jwt: JwtService,
    @Inject(BenchConfigToken) config: BenchConfig,
  ) {
    // jsonwebtoken names fewer algorithms than the library (no EdDSA); the bench runs one both know.
    this.algorithms = [config.algorithm as JsonWebTokenAlgorithm];
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<BenchRequest>();
    const header = request.headers.authorization;
    const [type, token] = typeof header === 'string' ? header.split(' ') : [];
    if (type !== 'Bearer' || !token) throw new UnauthorizedException();
    try {
      request.user = await this.jwt.verifyAsync(token, { algorithms: this.algorithms, issuer: ISSUER, audience: AUDIENCE });
    } catch {
      throw new UnauthorizedException();
    }
    return true;
  }
}

function passportOptions(key: KeyObject | Buffer | string, algorithm: JwtAlgorithm) {
  return {
    jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
    secretOrKey: key as unknown as Buffer,
    algorithms: [algorithm as JsonWebTokenAlgorithm],
    issuer: ISSUER,
    audience: AUDIENCE,
    ignoreExpiration: false,
  };
}

/**
 * passport-jwt given a KeyObject: its fastest form. jsonwebtoken takes a KeyObject (typed
 * string | Buffer only); bytes or a string cost a failed createPublicKey on every request.
 */
export class PassportJwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(key: KeyObject, algorithm: JwtAlgorithm) {
    super(passportOptions(key, algorithm));
  }

  validate(payload: unknown): unknown {
    return payload;
  }
}

/** passport-jwt as the @nestjs/passport docs set it up: `secretOrKey` is the secret itself. */
export class PassportJwtDocumentedStrategy extends PassportStrategy(Strategy, 'jwt-documented') {
  constructor(key: KeyObject, algorithm: JwtAlgorithm) {
    super(passportOptions(documentedSecret(key), algorithm));
  }

  validate(payload: unknown): unknown {
    return payload;
  }
}

/** The key as the docs pass it: the secret bytes (HMAC) or a PEM (asymmetric). */
function documentedSecret(key: KeyObject): Buffer | string {
  return key.type === 'secret' ? key.export() : (key.export({ type: 'spki', format: 'pem' }) as string);
}

/** The guard the @nestjs/jwt docs show, with `JwtModule.register({ secret })`. */
@Injectable()
export class NestJwtDocumentedGuard extends NestJwtGuard {
  constructor(@Inject(BENCH_KEYS) keys: BenchKeyObjects, @Inject(BenchConfigToken) config: BenchConfig) {
    super(new JwtService({ secret: documentedSecret(keys.verify) }), config);
  }
}

/** One controller, every route answering the same body; only the guards differ. */
@Controller()
export class BenchController {
  constructor(private readonly claims: ResponseClaims) {}

  @Get('bare')
  bare(@Req() request: BenchRequest): unknown {
    return request.user ?? this.claims.value;
  }

  @Get('noop')
  @UseGuards(BearerPresentGuard)
  noop(@Req() request: BenchRequest): unknown {
    return request.user ?? this.claims.value;
  }

  @Get('floor')
  @UseGuards(CryptoFloorGuard)
  floor(@Req() request: BenchRequest): unknown {
    return request.user ?? this.claims.value;
  }

  @Get('jwt')
  @UseGuards(JwtGuard)
  jwt(@Req() request: BenchRequest): unknown {
    return request.user ?? this.claims.value;
  }

  @Get('jwt-roles')
  @UseGuards(JwtGuard, RolesGuard)
  @Roles(REQUIRED_ROLE)
  jwtRoles(@Req() request: BenchRequest): unknown {
    return request.user ?? this.claims.value;
  }

  @Get('passport')
  @UseGuards(AuthGuard('jwt'))
  passport(@Req() request: BenchRequest): unknown {
    return request.user ?? this.claims.value;
  }

  @Get('nestjs-jwt')
  @UseGuards(NestJwtGuard)
  nestJwt(@Req() request: BenchRequest): unknown {
    return request.user ?? this.claims.value;
  }

  @Get('passport-documented')
  @UseGuards(AuthGuard('jwt-documented'))
  passportDocumented(@Req() request: BenchRequest): unknown {
    return request.user ?? this.claims.value;
  }

  @Get('nestjs-jwt-documented')
  @UseGuards(NestJwtDocumentedGuard)
  nestJwtDocumented(@Req() request: BenchRequest): unknown {
    return request.user ?? this.claims.value;
  }
}

/** The bench app: one Nest app holding every route, run on Express or Fastify. */
@Module({})
export class BenchAppModule {
  static register(config: BenchConfig): DynamicModule {
    return {
      module: BenchAppModule,
      imports: [BenchCoreModule.register(config), PassportModule],
      controllers: [BenchController],
      providers: [
        { provide: BenchConfigToken, useValue: config },
        ResponseClaims,
        BearerPresentGuard,
        CryptoFloorGuard,
        NestJwtGuard,
        {
          provide: JwtService,
          // A KeyObject through secretOrKeyProvider: @nestjs/jwt's fastest form (see the micro bench).
          useFactory: (keys: BenchKeyObjects) => new JwtService({ secretOrKeyProvider: () => keys.verify }),
          inject: [BENCH_KEYS],
        },
        {
          provide: PassportJwtStrategy,
          useFactory: (keys: BenchKeyObjects) => new PassportJwtStrategy(keys.verify, config.algorithm),
          inject: [BENCH_KEYS],
        },
        {
          provide: PassportJwtDocumentedStrategy,
          useFactory: (keys: BenchKeyObjects) => new PassportJwtDocumentedStrategy(keys.verify, config.algorithm),
          inject: [BENCH_KEYS],
        },
        NestJwtDocumentedGuard,
      ],
    };
  }
}
