import { type CookieSessionResponse, Public, SessionCookies } from '@app/jwt-rotation';
import { Body, Controller, HttpCode, Post, Req, Res, UnauthorizedException } from '@nestjs/common';
import { UsersService } from '../users/users.service';
import { CookieLoginDto } from './cookie-login.dto';
import { contextOf, type RequestInfo } from './session-context';

interface BrowserRequest extends RequestInfo {
  cookies?: Record<string, string | undefined>;
  method?: string;
  protocol?: string;
}

/**
 * The browser's way in: the same sessions as /auth, with the tokens in httpOnly cookies and a
 * CSRF token the page sends back in `x-csrf-token`. The refresh cookie is scoped to /auth/cookie.
 */
@Controller('auth/cookie')
export class CookieAuthController {
  constructor(
    private readonly cookies: SessionCookies,
    private readonly users: UsersService,
  ) {}

  /** Checks the password, opens a session and sets its cookies; the body holds no token. */
  @Public()
  @Post('login')
  @HttpCode(200)
  async login(
    @Body() body: CookieLoginDto,
    @Req() request: BrowserRequest,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<CookieSessionResponse> {
    const user = await this.users.verifyPassword(body.username, body.password);
    if (!user) throw new UnauthorizedException('Wrong username or password');
    return this.cookies.login(
      response,
      user.username,
      { roles: user.roles, permissions: user.permissions },
      { context: contextOf(request) },
    );
  }

  /** New cookies for the refresh cookie; needs the CSRF header. */
  @Public()
  @Post('refresh')
  @HttpCode(200)
  refresh(@Req() request: BrowserRequest, @Res({ passthrough: true }) response: unknown): Promise<CookieSessionResponse> {
    return this.cookies.refresh(request, response, contextOf(request));
  }

  /** Ends the session and clears the cookies; needs the CSRF header. */
  @Public()
  @Post('logout')
  @HttpCode(204)
  logout(@Req() request: BrowserRequest, @Res({ passthrough: true }) response: unknown): Promise<void> {
    return this.cookies.logout(request, response);
  }
}
