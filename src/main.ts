import { NestFactory } from '@nestjs/core';
import { configFromEnv } from './app.config';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';

async function bootstrap(): Promise<void> {
  const config = configFromEnv();
  const app = configureApp(await NestFactory.create(AppModule.register(config)));
  await app.listen(config.port);
  console.log(`Example app listening on http://localhost:${config.port} (${config.redisUrl ? 'Redis' : 'in-memory'} store)`);
}

void bootstrap();
