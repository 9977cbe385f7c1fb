import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { JwtRotationModuleOptions } from './jwt-rotation.options';

export const {
  ConfigurableModuleClass: JwtRotationConfigurableModule,
  MODULE_OPTIONS_TOKEN: JWT_ROTATION_MODULE_OPTIONS,
  OPTIONS_TYPE: JWT_ROTATION_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: JWT_ROTATION_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<JwtRotationModuleOptions>({ moduleName: 'JwtRotation' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createJwtRotationOptions')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
