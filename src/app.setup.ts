import { createJwtSwaggerDocument } from '@app/jwt-rotation/swagger';
import { type INestApplication, ValidationPipe } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import cookieParser from 'cookie-parser';
import { JsonDepthPipe } from './json-depth.pipe';

/** What main.ts applies to the app; the end-to-end tests apply the same. */
export function configureApp(app: INestApplication): INestApplication {
  const express = app.getHttpAdapter().getType() === 'express';
  // Session cookies of the browser routes (/auth/cookie/*) are read through cookie-parser on
  // Express; on Fastify, register @fastify/cookie before init (the library stops startup otherwise).
  if (express) app.use(cookieParser());
  // The depth check first: the ValidationPipe's class-transformer recurses over the body.
  app.useGlobalPipes(new JsonDepthPipe(), new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
  app.enableShutdownHooks();
  // Swagger UI at /docs, the OpenAPI document at /docs-json; guarded routes carry the bearer scheme.
  // The example serves on Express; on Fastify, Swagger UI would need @fastify/static as well.
  if (express) {
    const document = createJwtSwaggerDocument(app, new DocumentBuilder().setTitle('nest-jwt-rotation example').setVersion('0.1.0').build());
    SwaggerModule.setup('docs', app, document);
  }
  return app;
}
