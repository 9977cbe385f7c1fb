// The public API of `nest-jwt-rotation/health` (needs the optional peer @nestjs/terminus).
export { JwtRotationHealthIndicator } from './jwt-rotation.health';
