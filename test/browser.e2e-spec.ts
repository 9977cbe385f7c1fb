import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ExampleProcess, startExampleProcess } from './support/example-process';
import { freePort } from './support/redis-server';

/** Debian's Chromium; `.ci/run` installs it (`apt-get install -y chromium`) when it is missing. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The example app's page in a real browser (issue 16): the tokens live in httpOnly cookies the
 * page cannot read, an expired access cookie is refreshed without the user noticing, logout clears
 * the cookies for good, and a form on another origin cannot use the victim's cookies.
 */
describe('the browser page, in headless Chromium', () => {
  let app: ExampleProcess;
  let attacker: Server;
  let attackerUrl: string;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    app = await startExampleProcess(inject('exampleMain'), { JWT_ACCESS_TOKEN_TTL: '2s', JWT_CLOCK_TOLERANCE: '0s' });
    // The page is served on localhost: a secure context, where Chromium keeps Secure cookies over http.
    base = app.url.replace('127.0.0.1', 'localhost');
    const port = await freePort();
    attackerUrl = `http://localhost:${port}`;
    attacker = createServer((_, response) => {
      response.setHeader('content-type', 'text/html');
      // Same site (ports do not count), another origin: SameSite=Lax lets the cookies go with this POST.
      response.end(
        `<form id="f" method="POST" action="${base}/auth/cookie/logout"><input name="x" value="1"></form>` +
          '<script>document.getElementById("f").submit()</script>',
      );
    }).listen(port, '127.0.0.1');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (attacker ? attacker.close(resolve) : resolve(undefined)));
    await app?.stop();
  });

  const status = (page: Page) => page.locator('#status').textContent();
  const logIn = async (page: Page) => {
    await page.goto(`${base}/`);
    await page.click('#login-button');
    await expect.poll(() => status(page)).toBe('Signed in');
  };
  const whoAmI = async (page: Page) => {
    // A fresh answer, not the one left from the last click.
    await page.locator('#status').evaluate((element) => (element.textContent = 'asking'));
    await page.click('#whoami');
    await expect.poll(() => status(page)).toMatch(/^Signed in as alice$|^Not signed in$/);
    return status(page);
  };

  it('keeps the tokens out of the page, refreshes transparently, and logs out for good', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await logIn(page);
      const cookies = await context.cookies();
      const access = cookies.find((c) => c.name === '__Host-access_token')!;
      const refresh = cookies.find((c) => c.name === '__Secure-refresh_token')!;
      expect(access).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
      expect(refresh).toMatchObject({ httpOnly: true, secure: true, path: '/auth/cookie' });
      const visible = await page.evaluate<string>('document.cookie');
      expect(visible).not.toContain(access.value);
      expect(visible).not.toContain(refresh.value);
      expect(visible).toMatch(/^__Host-csrf_token=[^;]+$/);

      expect(await whoAmI(page)).toBe('Signed in as alice');
      expect(JSON.parse((await page.locator('#out').textContent())!)).toMatchObject({ sub: 'alice', roles: ['admin'] });

      // Past the access token's 2 s lifetime: the browser dropped its cookie; the page refreshes.
      await page.waitForTimeout(2_500);
      expect((await context.cookies()).some((c) => c.name === '__Host-access_token')).toBe(false);
      expect(await whoAmI(page)).toBe('Signed in as alice');
      const renewed = (await context.cookies()).find((c) => c.name === '__Secure-refresh_token')!;
      expect(renewed.value).not.toBe(refresh.value);

      const csrfBeforeLogout = (await page.evaluate<string>('document.cookie')).split('=')[1] ?? '';
      await page.click('#logout');
      await expect.poll(() => status(page)).toBe('Signed out');
      const left = (await context.cookies()).map((c) => c.name);
      expect(left).not.toContain('__Host-access_token');
      expect(left).not.toContain('__Secure-refresh_token');
      expect(await whoAmI(page)).toBe('Not signed in');

      // The refresh cookie the browser held before logout, replayed by hand: refused.
      const csrf = csrfBeforeLogout;
      const replay = await page.request.post(`${base}/auth/cookie/refresh`, {
        headers: { cookie: `__Secure-refresh_token=${renewed.value}; __Host-csrf_token=${csrf}`, 'x-csrf-token': csrf, origin: base },
      });
      expect(replay.status()).toBe(401);
      const again = await page.request.post(`${base}/auth/cookie/refresh`, {
        headers: { cookie: `__Secure-refresh_token=${renewed.value}` },
      });
      expect(again.status()).not.toBe(200);
    } finally {
      await context.close();
    }
  }, 60_000);

  it("refuses a form on another origin that posts with the victim's cookies, and the session goes on", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await logIn(page);
      const attack = await context.newPage();
      const answer = attack.waitForResponse((r) => r.url() === `${base}/auth/cookie/logout`);
      await attack.goto(attackerUrl);
      const response = await answer;
      expect(response.status()).toBe(403);
      expect(await response.json()).toMatchObject({ error: 'csrf_rejected' });
      expect(response.request().headers().cookie ?? (await response.request().allHeaders()).cookie).toContain('__Secure-refresh_token');
      expect(await whoAmI(page)).toBe('Signed in as alice');
    } finally {
      await context.close();
    }
  }, 60_000);
});
