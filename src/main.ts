import { ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { configFromEnv } from './app.config';
import { AppModule } from './app.module';

export async function bootstrap(): Promise<void> {
  const config = configFromEnv();
  const app = await NestFactory.create(AppModule.register(config));
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
  app.enableShutdownHooks();
  await app.listen(config.port);
  console.log(`Example app listening on http://localhost:${config.port} (${config.redisUrl ? 'Redis' : 'in-memory'} store)`);
}

void bootstrap();
