import { type INestApplication, ValidationPipe } from '@nestjs/common';
import cookieParser from 'cookie-parser';

/** What main.ts applies to the app; the end-to-end tests apply the same. */
export function configureApp(app: INestApplication): INestApplication {
  // Session cookies of the browser routes (/auth/cookie/*) are read through cookie-parser.
  app.use(cookieParser());
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
  app.enableShutdownHooks();
  return app;
}
