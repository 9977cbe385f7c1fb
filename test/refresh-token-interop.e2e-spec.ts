import express from 'express';
import { passportJwtSecret } from 'jwks-rsa';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import passport from 'passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, startExampleApp } from './support/example-app';

/**
 * Another team's service, set up the way the passport-jwt and jwks-rsa READMEs show it: keys from
 * our JWKS, issuer and algorithm checked, and no `audience` (a common omission). Such a verifier
 * must never take one of our refresh tokens for an access token.
 */
describe.each(['ES256', 'RS256'] as const)('a passport-jwt + jwks-rsa verifier of an %s issuer', (algorithm) => {
  let issuer: ExampleApp;
  let issuerUrl: string;
  let verifier: Server;
  let verifierUrl: string;

  beforeAll(async () => {
    issuer = await startExampleApp('memory', { algorithm, rotationInterval: '1h' });
    await issuer.app.listen(0, '127.0.0.1');
    issuerUrl = (await issuer.app.getUrl()).replace('[::1]', '127.0.0.1');
    const strategy = new Strategy(
      {
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        secretOrKeyProvider: passportJwtSecret({ jwksUri: `${issuerUrl}/.well-known/jwks.json`, cache: true, rateLimit: true }),
        issuer: issuer.config.issuer,
        algorithms: [algorithm],
      },
      (payload: unknown, done: (error: unknown, user?: unknown) => void) => done(null, payload),
    );
    const app = express();
    app.use(passport.initialize());
    app.get('/protected', passport.authenticate(strategy, { session: false }), (req, res) => {
      res.json(req.user);
    });
    verifier = await new Promise<Server>((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => resolve(server));
    });
    verifierUrl = `http://127.0.0.1:${(verifier.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => verifier?.close(resolve));
    await issuer?.close();
  });

  const status = async (token: string) =>
    (await fetch(`${verifierUrl}/protected`, { headers: { authorization: `Bearer ${token}` } })).status;

  it('accepts our access token, and refuses our refresh token as one, also after a refresh', async () => {
    const pair = await issuer.login('alice');
    expect(await status(pair.access_token)).toBe(200);
    expect(await status(pair.refresh_token)).toBe(401);
    const next = (await issuer.http().post('/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(200)).body as typeof pair;
    expect(await status(next.access_token)).toBe(200);
    expect(await status(next.refresh_token)).toBe(401);
  });
});
