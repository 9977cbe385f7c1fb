import { Public, TokenService } from '@app/jwt-rotation';
import { BadRequestException, Body, Controller, HttpCode, Post, UnauthorizedException } from '@nestjs/common';
import { UsersService } from '../users/users.service';
import { LoginDto } from './login.dto';

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

const KNOWN_AUDIENCES = new Set(['default', 'api']);

@Controller('auth')
export class AuthController {
  constructor(
    private readonly tokens: TokenService,
    private readonly users: UsersService,
  ) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  async login(@Body() body: LoginDto): Promise<TokenResponse> {
    const audience = body.audience ?? 'default';
    if (!KNOWN_AUDIENCES.has(audience)) throw new BadRequestException('Unknown audience');
    const user = await this.users.verifyPassword(body.username, body.password);
    if (!user) throw new UnauthorizedException('Wrong username or password');
    const claims = { roles: user.roles, permissions: user.permissions };
    const access_token = await this.tokens.signAsync(claims, { subject: user.username, audience });
    const refresh_token = await this.tokens.signAsync({}, { subject: user.username, audience, kind: 'refresh' });
    const { exp, iat } = this.tokens.decode(access_token).payload as { exp: number; iat: number };
    return { access_token, refresh_token, token_type: 'Bearer', expires_in: exp - iat };
  }
}
