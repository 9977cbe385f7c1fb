import { Public } from '@app/jwt-rotation';
import { JwtRotationHealthIndicator } from '@app/jwt-rotation/health';
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, type HealthCheckResult, HealthCheckService } from '@nestjs/terminus';

/** `GET /health`: 200 `{ status: "ok", ... }` while the key ring is healthy, 503 `{ status: "error", ... }` with a reason otherwise. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly jwt: JwtRotationHealthIndicator,
  ) {}

  @Public()
  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.jwt.isHealthy('jwt')]);
  }
}
