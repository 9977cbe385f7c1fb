import { describe, it } from 'vitest';
import { connect } from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startExampleApp } from './support/example-app';
import { KeyRing } from '../libs/jwt-rotation/src/keys/key-ring';
import { bearer } from './support/http';

const b64 = (s: string) => Buffer.from(s).toString('base64url');

function raw(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    sock.on('data', (d) => (out += d.toString('latin1')));
    sock.on('close', () => resolve(out));
    sock.on('error', (e) => resolve('ERR ' + e.message));
    sock.end(bytes);
  });
}

describe('scratch', () => {
  it('probes', async () => {
    const ex = await startExampleApp('memory');
    const pair = await ex.login('alice');
    const ring = ex.app.get(KeyRing);
    const signer = ring.signer(Date.now())!;
    const now = Math.floor(Date.now() / 1000);
    const sign = (h: string, p: string) => {
      const i = `${b64(h)}.${b64(p)}`;
      return `${i}.${signer.key.sign(i)}`;
    };
    const H = JSON.stringify({ alg: 'HS256', kid: signer.entry.kid, typ: 'at+jwt' });
    const P = (extra: object) =>
      JSON.stringify({
        sub: 'alice',
        roles: ['admin'],
        iss: 'https://issuer.test',
        aud: 'https://issuer.test',
        iat: now,
        nbf: now,
        exp: now + 600,
        jti: 'x',
        ...extra,
      });
    const me = async (t: string) => {
      const r = await ex.http().get('/me').set('Authorization', bearer(t));
      return `${r.status} ${r.headers['www-authenticate'] ?? ''} ${r.status === 200 ? JSON.stringify(r.body).slice(0, 100) : ''}`;
    };
    console.log('baseline', await me(sign(H, P({}))));
    console.log('exp 1e308', await me(sign(H, P({}).replace(/"exp":\d+/, '"exp":1e308'))));
    console.log('exp 1e400', await me(sign(H, P({}).replace(/"exp":\d+/, '"exp":1e400'))));
    console.log('dup sub', await me(sign(H, P({}).replace('{', '{"sub":"mallory",'))));
    console.log(
      'crit signed',
      await me(sign(JSON.stringify({ alg: 'HS256', kid: signer.entry.kid, typ: 'at+jwt', crit: ['foo'], foo: 1 }), P({}))),
    );
    const deep = '['.repeat(2700) + ']'.repeat(2700);
    const dt = sign(H, P({}).replace('"sub":"alice"', `"sub":"alice","x":${deep}`));
    console.log('deep len', dt.length, await me(dt));
    const deep10k = '['.repeat(10000) + ']'.repeat(10000);
    const dt2 = sign(H, P({}).replace('"sub":"alice"', `"sub":"alice","x":${deep10k}`));
    console.log('deep10k len', dt2.length, await me(dt2));
    const server = ex.app.getHttpServer() as http.Server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    for (const [name, bytes] of [
      [
        'nul',
        Buffer.concat([
          Buffer.from('GET /me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer a.b'),
          Buffer.from([0]),
          Buffer.from('c\r\n\r\n'),
        ]),
      ],
      [
        'ctl01',
        Buffer.concat([
          Buffer.from('GET /me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer a.b'),
          Buffer.from([1]),
          Buffer.from('c\r\n\r\n'),
        ]),
      ],
      [
        'del',
        Buffer.concat([
          Buffer.from('GET /me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer a.b'),
          Buffer.from([0x7f]),
          Buffer.from('c\r\n\r\n'),
        ]),
      ],
      ['tab', Buffer.from('GET /me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer a.b\tc\r\n\r\n')],
      [
        'utf8',
        Buffer.from(`GET /me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${pair.access_token}é\r\n\r\n`, 'utf8'),
      ],
      ['utf8 emoji', Buffer.from(`GET /me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer a.b😀.c\r\n\r\n`, 'utf8')],
      [
        'valid',
        Buffer.from(`GET /me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${pair.access_token}\r\n\r\n`, 'utf8'),
      ],
    ] as const) {
      const out = await raw(port, bytes as Buffer);
      console.log(name, JSON.stringify(out.split('\r\n\r\n')[0]));
    }
    // throughput
    let t0 = Date.now();
    await Promise.all(
      Array.from({ length: 32 }, async (_, w) => {
        for (let i = w; i < 2000; i += 32) await ex.http().get('/me').set('Authorization', 'Bearer a.b.c');
      }),
    );
    console.log('supertest 2000', Date.now() - t0);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const get = (auth: string) =>
      new Promise<number>((res, rej) => {
        const rq = http.request({ port, host: '127.0.0.1', path: '/me', agent, headers: { authorization: auth } }, (rs) => {
          rs.resume();
          rs.on('end', () => res(rs.statusCode!));
        });
        rq.on('error', rej);
        rq.end();
      });
    t0 = Date.now();
    await Promise.all(
      Array.from({ length: 32 }, async (_, w) => {
        for (let i = w; i < 2000; i += 32) await get('Bearer a.b.c');
      }),
    );
    console.log('keepalive 2000', Date.now() - t0);
    agent.destroy();
    await ex.close();
  });
});
