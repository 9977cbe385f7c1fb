import { TokenService } from '@app/jwt-rotation';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, startExampleApp, type StoreKind, STORES } from './support/example-app';
import { bearer, forgeHs256, sleepUntil } from './support/http';
import { connected, disconnected, emitWithAck, listen, socketTo } from './support/socket';

/** The example app's socket.io gateway, on one instance or two sharing Redis. */
describe.each(STORES)('socket.io gateway of the example app on the %s store', (store: StoreKind) => {
  let a: ExampleApp;
  let b: ExampleApp;
  let urlA: string;
  let urlB: string;
  const sockets: Socket[] = [];
  const open = (url: string, options: Parameters<typeof socketTo>[1]) => {
    const socket = socketTo(url, options);
    sockets.push(socket);
    return socket;
  };

  beforeAll(async () => {
    const shared = { keyPrefix: `test-gw-${randomBytes(6).toString('hex')}`, clockTolerance: '0s' };
    a = await startExampleApp(store, shared);
    // On Redis, B is a second instance sharing A's store; in memory, the same instance.
    b = store === 'redis' ? await startExampleApp(store, shared) : a;
    urlA = await listen(a.app);
    urlB = await listen(b.app);
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    await a?.close();
    if (b !== a) await b?.close();
  });

  it('accepts a handshake with auth.token and acks whoami with { sub }', async () => {
    const { access_token } = await a.login('alice');
    const socket = open(urlB, { token: access_token });
    expect(await connected(socket)).toEqual({ connected: true });
    expect(await emitWithAck(socket, 'whoami')).toEqual({ ack: { sub: 'alice' } });
  });

  it('accepts a handshake with an Authorization header', async () => {
    const { access_token } = await a.login('bob');
    const socket = open(urlA, { authorization: bearer(access_token) });
    expect(await connected(socket)).toEqual({ connected: true });
    expect(await emitWithAck(socket, 'whoami')).toEqual({ ack: { sub: 'bob' } });
  });

  it.each([
    ['no token', {}, 'ERR_TOKEN_MISSING'],
    ['a garbage token', { token: 'garbage' }, 'ERR_JWT_MALFORMED'],
    ['a malformed Authorization header', { authorization: 'Bearer a b' }, 'ERR_AUTHORIZATION_MALFORMED'],
  ])('refuses a handshake with %s: connect_error says why, without a stack', async (_, options, reason) => {
    const outcome = await connected(open(urlA, options));
    expect(outcome.connected).toBe(false);
    if (outcome.connected) return;
    expect(outcome.data).toEqual({ code: 'UNAUTHENTICATED', reason });
    expect(outcome.message).not.toMatch(/Internal server error| {4}at /i);
    expect(outcome.message.length).toBeGreaterThan(10);
  });

  it('refuses a forged token and a token of another audience at the handshake', async () => {
    const forged = await forgeHs256({ alg: 'HS256', typ: 'at+jwt', kid: 'nope' }, { sub: 'mallory' });
    const refusedForged = await connected(open(urlA, { token: forged }));
    expect(refusedForged).toMatchObject({ connected: false, data: { code: 'UNAUTHENTICATED', reason: 'ERR_JWT_KEY_UNKNOWN' } });
    const { access_token } = await a.login('alice', 'api');
    const refusedAudience = await connected(open(urlA, { token: access_token }));
    expect(refusedAudience).toMatchObject({ connected: false, data: { code: 'UNAUTHENTICATED', reason: 'ERR_JWT_AUDIENCE_INVALID' } });
  });

  it('refuses a message sent after the token expired with an exception that has a code', async () => {
    const tokens = a.app.get(TokenService);
    const token = await tokens.signAsync({}, { subject: 'carol', expiresIn: 2 });
    const socket = open(urlB, { token });
    expect(await connected(socket)).toEqual({ connected: true });
    expect(await emitWithAck(socket, 'whoami')).toEqual({ ack: { sub: 'carol' } });
    await sleepUntil((tokens.decode(token).payload.exp as number) * 1000 + 1100);
    expect(await emitWithAck(socket, 'whoami')).toEqual({
      exception: { status: 'error', code: 'UNAUTHENTICATED', reason: 'ERR_JWT_EXPIRED', message: 'The access token expired' },
    });
  });

  it('disconnects a socket held on instance B within 1 s of a logout on instance A', async () => {
    const { access_token } = await a.login('alice');
    const socket = open(urlB, { token: access_token });
    expect(await connected(socket)).toEqual({ connected: true });
    const exception = new Promise((resolve) => socket.once('exception', resolve));
    const gone = disconnected(socket, 1000);
    await a.http().post('/auth/logout').set('Authorization', bearer(access_token)).expect(204);
    expect(await gone).toBe('io server disconnect');
    expect(await exception).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'ERR_JWT_REVOKED' });
    // A new handshake with the revoked token is refused too.
    expect(await connected(open(urlB, { token: access_token }))).toMatchObject({ connected: false, data: { reason: 'ERR_JWT_REVOKED' } });
  });

  it('disconnects every socket of a user after logout-all, and leaves other users connected', async () => {
    const first = (await a.login('alice')).access_token;
    const second = (await a.login('alice')).access_token;
    const other = (await a.login('bob')).access_token;
    const s1 = open(urlA, { token: first });
    const s2 = open(urlB, { token: second });
    const s3 = open(urlB, { token: other });
    for (const s of [s1, s2, s3]) expect(await connected(s)).toEqual({ connected: true });
    // Tokens issued in the same second as the logout-all stay valid (see RevocationView.check); wait for the next second.
    await sleepUntil(Math.ceil(Date.now() / 1000) * 1000 + 10);
    const gone = Promise.all([disconnected(s1, 1000), disconnected(s2, 1000)]);
    await a.http().post('/auth/logout-all').set('Authorization', bearer(first)).expect(204);
    await gone;
    expect(s3.connected).toBe(true);
    expect(await emitWithAck(s3, 'whoami')).toEqual({ ack: { sub: 'bob' } });
  });
});
