import { type INestApplication, ValidationPipe } from '@nestjs/common';

/** What main.ts applies to the app; the end-to-end tests apply the same. */
export function configureApp(app: INestApplication): INestApplication {
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
  app.enableShutdownHooks();
  return app;
}
