import { type INestApplication, ValidationPipe } from '@nestjs/common';
import cookieParser from 'cookie-parser';
import { JsonDepthPipe } from './json-depth.pipe';

/** What main.ts applies to the app; the end-to-end tests apply the same. */
export function configureApp(app: INestApplication): INestApplication {
  // Session cookies of the browser routes (/auth/cookie/*) are read through cookie-parser.
  app.use(cookieParser());
  // The depth check first: the ValidationPipe's class-transformer recurses over the body.
  app.useGlobalPipes(new JsonDepthPipe(), new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
  app.enableShutdownHooks();
  return app;
}
