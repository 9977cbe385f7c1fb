import { Claims, JwtGuard, JwtRotationModule, Roles, RolesGuard, TokenFrom, TokenService } from '@app/jwt-rotation';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { CacheModule } from '@nestjs/cache-manager';
import { Controller, type INestApplication, Module, UseGuards } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ClientProxy, ClientProxyFactory, GrpcMethod, MessagePattern, Payload, Transport } from '@nestjs/microservices';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, forgeHs256 } from './support/http';

const ISSUER = 'https://rpc.test';
const PROTO = join(process.cwd(), 'test', 'support', 'fixtures', 'whoami.proto');

@Controller()
class WhoamiController {
  /** TCP: the token in the packet metadata's `authorization` (the default source). */
  @MessagePattern('whoami')
  whoami(@Claims('sub') sub: string): { sub: string } {
    return { sub };
  }

  /** TCP: the token in a payload field. */
  @TokenFrom({ field: 'accessToken' })
  @MessagePattern('whoami.field')
  whoamiField(@Claims('sub') sub: string, @Payload() data: Record<string, unknown>): { sub: string; keys: string[] } {
    return { sub, keys: Object.keys(data) };
  }

  @UseGuards(RolesGuard)
  @Roles('admin')
  @MessagePattern('admin')
  admin(@Claims('sub') sub: string): { sub: string } {
    return { sub };
  }

  /** gRPC: the token in metadata `authorization`. */
  @GrpcMethod('Whoami', 'Get')
  get(@Claims('sub') sub: string): { sub: string } {
    return { sub };
  }

  @UseGuards(RolesGuard)
  @Roles('admin')
  @GrpcMethod('Whoami', 'Admin')
  adminGrpc(): { sub: string } {
    return { sub: 'admin' };
  }
}

@Module({
  imports: [ScheduleModule.forRoot(), CacheModule.register({ isGlobal: true }), JwtRotationModule.forRoot({ issuer: ISSUER })],
  controllers: [WhoamiController],
  providers: [{ provide: APP_GUARD, useClass: JwtGuard }],
})
class RpcAppModule {}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

type WhoamiClient = grpc.Client & {
  Get(request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, reply?: { sub: string }) => void): void;
  Admin(request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, reply?: { sub: string }) => void): void;
};

describe('microservices: TCP with ClientProxy and gRPC with @grpc/grpc-js', () => {
  let app: INestApplication;
  let tokens: TokenService;
  let tcp: ClientProxy;
  let grpcClient: WhoamiClient;
  let authorization: string | undefined;

  beforeAll(async () => {
    const [tcpPort, grpcPort] = [await freePort(), await freePort()];
    const moduleRef = await Test.createTestingModule({ imports: [RpcAppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.connectMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port: tcpPort } }, { inheritAppConfig: true });
    app.connectMicroservice(
      { transport: Transport.GRPC, options: { package: 'whoami', protoPath: PROTO, url: `127.0.0.1:${grpcPort}` } },
      { inheritAppConfig: true },
    );
    await app.startAllMicroservices();
    await app.init();
    tokens = app.get(TokenService);

    tcp = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port: tcpPort } });
    tcp.setOnDispatchHook((packet) => {
      if (authorization !== undefined) packet.metadata = { authorization };
    });
    await tcp.connect();
    const definition = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO)) as unknown as {
      whoami: { Whoami: new (address: string, credentials: grpc.ChannelCredentials) => WhoamiClient };
    };
    grpcClient = new definition.whoami.Whoami(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    grpcClient?.close();
    await tcp?.close();
    await app?.close();
  });

  const send = async (pattern: string, data: object, header?: string) => {
    authorization = header;
    try {
      return { reply: (await firstValueFrom(tcp.send(pattern, data))) as unknown };
    } catch (error) {
      return { error };
    } finally {
      authorization = undefined;
    }
  };
  const call = (method: 'Get' | 'Admin', header?: string) =>
    new Promise<{ reply?: { sub: string }; code?: number; details?: string }>((resolve) => {
      const metadata = new grpc.Metadata();
      if (header !== undefined) metadata.set('authorization', header);
      grpcClient[method]({}, metadata, (error, reply) => resolve(error ? { code: error.code, details: error.details } : { reply }));
    });
  const forged = () => forgeHs256({ alg: 'HS256', typ: 'at+jwt', kid: 'nope' }, { sub: 'mallory', iss: ISSUER, aud: ISSUER });

  describe('TCP', () => {
    it('runs the handler for a valid token in the packet metadata, with @Claims()', async () => {
      expect(await send('whoami', {}, bearer(await tokens.signAsync({}, { subject: 'carol' })))).toEqual({ reply: { sub: 'carol' } });
    });

    it('reads the token from a payload field with @TokenFrom({ field }), and never writes into the payload', async () => {
      const token = await tokens.signAsync({}, { subject: 'dave' });
      expect(await send('whoami.field', { accessToken: token, n: 1 })).toEqual({ reply: { sub: 'dave', keys: ['accessToken', 'n'] } });
    });

    it.each([
      ['missing', async () => undefined, 'ERR_TOKEN_MISSING'],
      ['forged', async () => bearer(await forged()), 'ERR_JWT_KEY_UNKNOWN'],
      ['garbage', async () => 'Bearer not a token', 'ERR_AUTHORIZATION_MALFORMED'],
    ])('refuses a %s token with an RpcException carrying a code', async (_, header, reason) => {
      const { error } = await send('whoami', {}, await header());
      expect(error).toMatchObject({ status: 'error', code: 'UNAUTHENTICATED', reason });
      expect(JSON.stringify(error)).not.toContain('Internal server error');
    });

    it('refuses a token without the role with FORBIDDEN', async () => {
      const { error } = await send('admin', {}, bearer(await tokens.signAsync({ roles: ['user'] }, { subject: 'erin' })));
      expect(error).toMatchObject({ status: 'error', code: 'FORBIDDEN', reason: 'ERR_INSUFFICIENT_SCOPE' });
      expect(await send('admin', {}, bearer(await tokens.signAsync({ roles: ['admin'] }, { subject: 'erin' })))).toEqual({
        reply: { sub: 'erin' },
      });
    });
  });

  describe('gRPC', () => {
    it('answers a call with a valid token in metadata authorization, with @Claims()', async () => {
      expect(await call('Get', bearer(await tokens.signAsync({}, { subject: 'carol' })))).toEqual({ reply: { sub: 'carol' } });
    });

    it.each([
      ['missing', async () => undefined],
      ['forged', async () => bearer(await forged())],
      ['malformed', async () => 'Bearer a b'],
    ])('refuses a %s token with status UNAUTHENTICATED (16)', async (_, header) => {
      const outcome = await call('Get', await header());
      expect(outcome.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(outcome.details).not.toMatch(/Internal server error/i);
    });

    it('refuses a token without the role with PERMISSION_DENIED (7)', async () => {
      expect((await call('Admin', bearer(await tokens.signAsync({ roles: ['user'] }, { subject: 'erin' })))).code).toBe(
        grpc.status.PERMISSION_DENIED,
      );
      expect(await call('Admin', bearer(await tokens.signAsync({ roles: ['admin'] }, { subject: 'erin' })))).toEqual({
        reply: { sub: 'admin' },
      });
    });
  });
});
