import {
  Audience,
  ConfigurationError,
  JwtGuard,
  JwtRotationModule,
  Permissions,
  PermissionsGuard,
  Roles,
  RolesGuard,
  TokenFrom,
} from '@app/jwt-rotation';
import { CacheModule } from '@nestjs/cache-manager';
import { Controller, Get, type LoggerService, Module, type Type, UseGuards } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';

const ISSUER = 'https://checks.test';

@Controller('typo')
class AudienceTypoController {
  @Audience('apii')
  @Get()
  get(): string {
    return 'never';
  }
}

@Controller('query')
class QueryTokenController {
  @TokenFrom({ query: 'access_token' } as never)
  @Get()
  get(): string {
    return 'never';
  }
}

@Controller('unguarded')
class UnguardedRolesController {
  @UseGuards(RolesGuard)
  @Roles('admin')
  @Get()
  get(): string {
    return 'refused';
  }

  @Permissions('articles:write')
  @Get('unchecked')
  unchecked(): string {
    return 'unchecked';
  }
}

@Controller('guarded')
@UseGuards(JwtGuard, PermissionsGuard)
class GuardedController {
  @Audience('api')
  @Permissions('articles:write')
  @Get()
  get(): string {
    return 'ok';
  }
}

function appModule(controllers: Type[], globalGuard = false): Type {
  @Module({
    imports: [
      ScheduleModule.forRoot(),
      CacheModule.register({ isGlobal: true }),
      JwtRotationModule.forRoot({ issuer: ISSUER, audiences: { default: ISSUER, api: `${ISSUER}/api` } }),
    ],
    controllers,
    providers: globalGuard ? [{ provide: APP_GUARD, useClass: JwtGuard }] : [],
  })
  class CheckedModule {}
  return CheckedModule;
}

async function start(controllers: Type[], globalGuard = false): Promise<{ warnings: string[]; error?: unknown }> {
  const warnings: string[] = [];
  const ignore = () => undefined;
  const logger: LoggerService = {
    log: ignore,
    error: ignore,
    debug: ignore,
    verbose: ignore,
    warn: (m: unknown) => void warnings.push(String(m)),
  };
  const moduleRef = await Test.createTestingModule({ imports: [appModule(controllers, globalGuard)] }).compile();
  const app = moduleRef.createNestApplication({ logger });
  try {
    await app.init();
    return { warnings };
  } catch (error) {
    return { warnings, error };
  } finally {
    await app.close().catch(() => undefined);
  }
}

describe('route metadata is checked at startup', () => {
  it('stops the app for an @Audience() name missing from the audiences option, naming controller and handler', async () => {
    const { error } = await start([AudienceTypoController, GuardedController], true);
    expect(error).toBeInstanceOf(ConfigurationError);
    const problems = (error as ConfigurationError).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("@Audience('apii') on AudienceTypoController.get");
    expect(problems[0]).toContain('known: default, api');
  });

  it('stops the app for a @TokenFrom() that names the query string', async () => {
    const { error } = await start([QueryTokenController], true);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).problems[0]).toMatch(
      /^@TokenFrom\(\) on QueryTokenController\.get\[0\]: the URL query string is never a token source/,
    );
  });

  it('warns about @Roles() without JwtGuard in front and @Permissions() that no guard checks', async () => {
    const { warnings, error } = await start([UnguardedRolesController, GuardedController]);
    expect(error).toBeUndefined();
    const ours = warnings.filter((w) => w.includes('UnguardedRolesController'));
    expect(ours).toHaveLength(2);
    expect(ours.find((w) => w.includes('.get '))).toMatch(
      /@Roles\(\) on UnguardedRolesController\.get has no JwtGuard in front of RolesGuard/,
    );
    expect(ours.find((w) => w.includes('.unchecked'))).toMatch(
      /@Permissions\(\) on UnguardedRolesController\.unchecked is never checked: add PermissionsGuard/,
    );
    expect(warnings.filter((w) => w.includes('GuardedController.get'))).toEqual([]);
  });

  it('counts a global JwtGuard (APP_GUARD) as in front of every route', async () => {
    const { warnings, error } = await start([UnguardedRolesController], true);
    expect(error).toBeUndefined();
    expect(warnings.filter((w) => w.includes('has no JwtGuard'))).toEqual([]);
    expect(warnings.filter((w) => w.includes('never checked'))).toHaveLength(1);
  });

  it('starts the example-style app with correct metadata without a word', async () => {
    const { warnings, error } = await start([GuardedController]);
    expect(error).toBeUndefined();
    expect(warnings.filter((w) => w.includes('@Roles') || w.includes('@Permissions') || w.includes('@Audience'))).toEqual([]);
  });
});
