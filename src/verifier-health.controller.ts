import { Public, RemoteJwksKeySource, type TrustedIssuerStatus } from '@app/jwt-rotation';
import { Controller, Get, HttpCode, HttpStatus, Optional, Res } from '@nestjs/common';

interface Health {
  status: 'ok' | 'degraded' | 'unavailable';
  /** On a verifier: where each trusted issuer's keys stand. */
  issuers?: TrustedIssuerStatus[];
}

@Controller('health')
export class VerifierHealthController {
  constructor(@Optional() private readonly trusted?: RemoteJwksKeySource) {}

  /** 200 while tokens can be verified; 503 when a verifier holds no key of some issuer (its tokens are refused). */
  @Public()
  @Get()
  @HttpCode(HttpStatus.OK)
  health(@Res({ passthrough: true }) response: { status(code: number): unknown }): Health {
    if (!this.trusted) return { status: 'ok' };
    const issuers = this.trusted.status();
    const status = issuers.some((i) => i.status === 'unavailable')
      ? 'unavailable'
      : issuers.some((i) => i.status === 'stale')
        ? 'degraded'
        : 'ok';
    if (status === 'unavailable') response.status(HttpStatus.SERVICE_UNAVAILABLE);
    return { status, issuers };
  }
}
