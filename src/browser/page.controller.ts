import { JWT_ROTATION_OPTIONS, Public, type ResolvedJwtRotationOptions } from '@app/jwt-rotation';
import { Controller, Get, Header, Inject } from '@nestjs/common';
import { PAGE_HTML, PAGE_SCRIPT } from './page';

/** Only this app's own script runs on the page; nothing inline, nothing from elsewhere. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'";

@Public()
@Controller()
export class PageController {
  private readonly scriptBody: string;

  constructor(@Inject(JWT_ROTATION_OPTIONS) options: ResolvedJwtRotationOptions) {
    const cookies = options.cookies;
    this.scriptBody = PAGE_SCRIPT.replace('__CSRF_COOKIE__', cookies?.csrfCookieName ?? '').replace(
      '__CSRF_HEADER__',
      cookies?.csrfHeader ?? '',
    );
  }

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', CSP)
  page(): string {
    return PAGE_HTML;
  }

  @Get('app.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Content-Security-Policy', CSP)
  script(): string {
    return this.scriptBody;
  }
}
