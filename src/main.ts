import { NestFactory } from '@nestjs/core';
import { configFromEnv } from './app.config';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';

async function bootstrap(): Promise<void> {
  const config = configFromEnv();
  const app = configureApp(await NestFactory.create(AppModule.register(config)));
  await app.listen(config.port);
  const mode = config.trustIssuer
    ? `verifier of ${config.trustIssuer} (${config.trustPreset ?? 'rfc9068'})`
    : config.jwksUri
      ? `verifier, keys from ${config.jwksUri}`
      : `${config.redisUrl ? 'Redis' : 'in-memory'} store`;
  console.log(`Example app listening on http://localhost:${config.port} (${mode})`);
}

void bootstrap();
