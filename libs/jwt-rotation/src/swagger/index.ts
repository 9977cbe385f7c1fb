// The public API of `nest-jwt-rotation/swagger` (needs the optional peer @nestjs/swagger).
export { BEARER_SECURITY_SCHEME, createJwtSwaggerDocument } from './jwt-rotation.swagger';
