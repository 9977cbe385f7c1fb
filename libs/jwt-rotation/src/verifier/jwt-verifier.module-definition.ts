import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { JwtVerifierModuleOptions } from './jwt-verifier.options';

export const {
  ConfigurableModuleClass: JwtVerifierConfigurableModule,
  MODULE_OPTIONS_TOKEN: JWT_VERIFIER_MODULE_OPTIONS,
  OPTIONS_TYPE: JWT_VERIFIER_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: JWT_VERIFIER_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<JwtVerifierModuleOptions>({ moduleName: 'JwtVerifier' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createJwtVerifierOptions')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
