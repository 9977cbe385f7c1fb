import { afterAll, describe, it } from 'vitest';
import type { AppConfig } from '../src/app.config';
import { type ExampleApp, startExampleApp, STORES } from './support/example-app';
import { bearer, headerOf, parseChallenge, payloadOf, sleepUntil } from './support/http';

/**
 * Keys rotate every 2 s; tokens live 3 s (a little longer than a window, so a token signed just
 * before a rotation is still unexpired after it). A key is kept for retirement + 3 s.
 */
const FAST: Partial<AppConfig> = { rotationInterval: '2s', accessTokenTtl: '3s', refreshTokenTtl: '3s', clockTolerance: '0s' };

interface KeyListEntry {
  kid: string;
  status: string;
  activatesAt: string;
  retiresAt: string;
  expiresAt: string;
}

// The two stores and their tests run side by side: each test has its own app and key prefix.
describe.concurrent.each(STORES)('scheduled key rotation on the %s store', (store) => {
  const apps: ExampleApp[] = [];
  afterAll(() => Promise.all(apps.map((app) => app.close())));

  const start = async () => {
    const app = await startExampleApp(store, FAST);
    apps.push(app);
    return app;
  };
  const me = (app: ExampleApp, token: string) => app.http().get('/me').set('Authorization', bearer(token));
  const keys = async (app: ExampleApp) => {
    const { access_token } = await app.login('alice');
    return (await app.http().get('/admin/keys').set('Authorization', bearer(access_token)).expect(200)).body as KeyListEntry[];
  };
  const description = (response: { headers: Record<string, string> }) =>
    parseChallenge(response.headers['www-authenticate']).params.error_description;

  it('keeps verifying tokens across a rotation, signs new ones with the next key, and drops the key once it expires', async ({
    expect,
  }) => {
    const app = await start();
    const initial = await keys(app);
    const first = initial.find((k) => k.status === 'current')!;
    const second = initial.find((k) => k.status === 'next')!;
    const rotationAt = Date.parse(first.retiresAt);
    expect(Date.parse(second.activatesAt)).toBe(rotationAt);
    expect(rotationAt - Date.parse(first.activatesAt)).toBe(2000);

    // Sign shortly before the scheduled rotation.
    await sleepUntil(rotationAt - 900);
    const before = (await app.login('alice')).access_token;
    expect(headerOf(before).kid).toBe(first.kid);

    // After the rotation: the old token still verifies, new tokens carry the next kid.
    await sleepUntil(rotationAt + 300);
    expect((await me(app, before).expect(200)).body.sub).toBe('alice');
    const after = (await app.login('alice')).access_token;
    expect(headerOf(after).kid).toBe(second.kid);
    await me(app, after).expect(200);

    const rotated = await keys(app);
    expect(rotated.find((k) => k.kid === first.kid)?.status).toBe('retired');
    expect(rotated.find((k) => k.kid === second.kid)?.status).toBe('current');

    // Once the token's own exp has passed, it is refused as expired while its key is still held.
    const exp = payloadOf(before).exp! * 1000;
    const expiresAt = Date.parse(first.expiresAt);
    expect(expiresAt).toBe(rotationAt + 3000);
    expect(exp).toBeLessThan(expiresAt - 300);
    await sleepUntil(exp + 100);
    const expired = await me(app, before);
    expect(expired.status).toBe(401);
    expect(description(expired)).toBe('The access token expired');

    // Past retirement + the longest token lifetime (+ 0 s tolerance) the key is gone: its tokens
    // are refused for an unknown key, not merely as expired.
    await sleepUntil(expiresAt + 400);
    const refused = await me(app, before);
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(description(refused)).toBe('The access token was signed with an unknown key');
    const remaining = await keys(app);
    expect(remaining.map((k) => k.kid)).not.toContain(first.kid);
    expect(remaining.filter((k) => k.status === 'current')).toHaveLength(1);
    expect(remaining.filter((k) => k.status === 'next')).toHaveLength(2);
  });

  it('refuses tokens of a key revoked with DELETE /admin/keys/:kid, also after the next scheduled rotation', async ({ expect }) => {
    const app = await start();
    const token = (await app.login('alice')).access_token;
    const kid = headerOf(token).kid!;
    await me(app, token).expect(200);
    await app
      .http()
      .delete(`/admin/keys/${encodeURIComponent(kid)}`)
      .set('Authorization', bearer(token))
      .expect(204);

    const refused = await me(app, token);
    expect(refused.status).toBe(401);
    expect(description(refused)).toBe('The access token was signed with a revoked key');

    const fresh = (await app.login('alice')).access_token;
    expect(headerOf(fresh).kid).not.toBe(kid);
    await me(app, fresh).expect(200);
    expect((await keys(app)).find((k) => k.kid === kid)?.status).toBe('revoked');

    // The revoked key never comes back, whatever the schedule does next.
    const promoted = (await keys(app)).find((k) => k.status === 'current')!;
    await sleepUntil(Date.parse(promoted.retiresAt) + 300);
    expect((await me(app, token)).status).toBe(401);
    const later = (await app.login('alice')).access_token;
    expect(headerOf(later).kid).not.toBe(kid);
    expect(headerOf(later).kid).not.toBe(promoted.kid);
    await me(app, later).expect(200);
  });
});
