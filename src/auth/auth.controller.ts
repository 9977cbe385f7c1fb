import { Claims, Public, SessionService, type SessionInfo, type TokenPair, type VerifiedClaims } from '@app/jwt-rotation';
import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Req,
  UnauthorizedException,
} from '@nestjs/common';
import { UsersService } from '../users/users.service';
import { LoginDto } from './login.dto';
import { RefreshDto } from './refresh.dto';
import { contextOf, type RequestInfo } from './session-context';

const KNOWN_AUDIENCES = new Set(['default', 'api']);

@Controller('auth')
export class AuthController {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: UsersService,
  ) {}

  /** Checks the password and opens a session. */
  @Public()
  @Post('login')
  @HttpCode(200)
  async login(@Body() body: LoginDto, @Req() request: RequestInfo): Promise<TokenPair> {
    const audience = body.audience ?? 'default';
    if (!KNOWN_AUDIENCES.has(audience)) throw new BadRequestException('Unknown audience');
    const user = await this.users.verifyPassword(body.username, body.password);
    if (!user) throw new UnauthorizedException('Wrong username or password');
    return this.sessions.issue(
      user.username,
      { roles: user.roles, permissions: user.permissions },
      { audience, context: contextOf(request) },
    );
  }

  /** Trades a refresh token for a new pair; a refresh token used twice revokes its session. */
  @Public()
  @Post('refresh')
  @HttpCode(200)
  refresh(@Body() body: RefreshDto, @Req() request: RequestInfo): Promise<TokenPair> {
    return this.sessions.refresh(body.refresh_token, contextOf(request));
  }

  /** Ends the caller's session. */
  @Post('logout')
  @HttpCode(204)
  async logout(@Claims() claims: VerifiedClaims<{ sid?: string }>): Promise<void> {
    if (claims.sid) await this.sessions.revokeSession(claims.sid);
  }

  /** Ends every session of the caller. */
  @Post('logout-all')
  @HttpCode(204)
  async logoutAll(@Claims('sub') subject: string): Promise<void> {
    await this.sessions.revokeAllSessions(subject);
  }

  @Get('sessions')
  async list(@Claims() claims: VerifiedClaims<{ sid?: string }>): Promise<Array<SessionInfo & { current: boolean }>> {
    const sessions = await this.sessions.listSessions(claims.sub!);
    return sessions.map((session) => ({ ...session, current: session.sid === claims.sid }));
  }

  /** Ends one of the caller's own sessions; another user's sid is answered as if it did not exist. */
  @Delete('sessions/:sid')
  @HttpCode(204)
  async revoke(@Param('sid') sid: string, @Claims('sub') subject: string): Promise<void> {
    if (!(await this.sessions.revokeSession(sid, subject))) throw new NotFoundException('No such session');
  }
}
