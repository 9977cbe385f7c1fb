import { type INestApplication, ValidationPipe } from '@nestjs/common';
import { JsonDepthPipe } from './json-depth.pipe';

/** What main.ts applies to the app; the end-to-end tests apply the same. */
export function configureApp(app: INestApplication): INestApplication {
  // The depth check first: the ValidationPipe's class-transformer recurses over the body.
  app.useGlobalPipes(new JsonDepthPipe(), new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
  app.enableShutdownHooks();
  return app;
}
