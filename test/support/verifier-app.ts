import {
  Claims,
  JwtGuard,
  JwtRotationModule,
  type JwtVerifierModuleOptions,
  Permissions,
  PermissionsGuard,
  Public,
  RemoteJwksKeySource,
  Roles,
  RolesGuard,
} from '@app/jwt-rotation';
import { Controller, Get, type INestApplication, type LoggerService, Post, UseGuards } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import request from 'supertest';

/** A Nest app that only verifies: `JwtRotationModule.forVerifier(options)`, JwtGuard global, three probes. */
export interface VerifierApp {
  app: INestApplication;
  http: () => ReturnType<typeof request>;
  keys: RemoteJwksKeySource;
  /** GET /me with a Bearer token: status and body. */
  me(token: string): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

/** Collects every log line, so a test can assert what reached the log (and what did not). */
export class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown): void {
    this.lines.push(String(message));
  }
  warn(message: unknown): void {
    this.lines.push(String(message));
  }
  error(message: unknown): void {
    this.lines.push(String(message));
  }
  debug(): void {}
  verbose(): void {}
}

export async function startVerifierApp(
  options: JwtVerifierModuleOptions,
  probes: { role?: string; permission?: string } = {},
  logger: LoggerService | false = false,
): Promise<VerifierApp> {
  @Controller()
  class ProbeController {
    @Get('me')
    me(@Claims() claims: unknown): unknown {
      return claims;
    }

    @Get('admin')
    @UseGuards(RolesGuard)
    @Roles(probes.role ?? 'admin')
    admin(): { ok: true } {
      return { ok: true };
    }

    @Post('articles')
    @UseGuards(PermissionsGuard)
    @Permissions(probes.permission ?? 'articles:write')
    write(): { ok: true } {
      return { ok: true };
    }

    @Public()
    @Get('health')
    health(): unknown {
      return keys.status();
    }
  }
  const moduleRef = await Test.createTestingModule({
    imports: [JwtRotationModule.forVerifier(options)],
    controllers: [ProbeController],
    providers: [{ provide: APP_GUARD, useClass: JwtGuard }],
  }).compile();
  // After compile(): the testing module installs a logger of its own there.
  moduleRef.useLogger(logger);
  const keys = moduleRef.get(RemoteJwksKeySource);
  const app = moduleRef.createNestApplication();
  await app.init();
  const http = () => request(app.getHttpServer());
  return {
    app,
    http,
    keys,
    async me(token) {
      const response = await http().get('/me').set('Authorization', `Bearer ${token}`);
      return { status: response.status, body: response.body as unknown };
    },
    close: () => app.close(),
  };
}
