import { Audience, Claims, type VerifiedClaims } from '@app/jwt-rotation';
import { Controller, Get } from '@nestjs/common';

@Controller()
export class MeController {
  /** The caller's verified claims. */
  @Get('me')
  me(@Claims() claims: VerifiedClaims): VerifiedClaims {
    return claims;
  }

  /** Only tokens issued for the `api` audience get in. */
  @Audience('api')
  @Get('api/ping')
  ping(@Claims('sub') subject: string): { pong: true; sub: string } {
    return { pong: true, sub: subject };
  }
}
