import type { TestingModule } from '@nestjs/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestModule } from '../testing/test-module';
import { TokenService } from '../tokens/token.service';
import { KeyRotationService } from './key-rotation.service';

const MINUTE = 60_000;

describe('KeyRotationService', () => {
  let moduleRef: TestingModule;
  let rotation: KeyRotationService;
  let tokens: TokenService;
  const kidOf = (token: string) => tokens.decode(token).header.kid as string;

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(2026, 0, 1) });
    moduleRef = await createTestModule({
      rotationInterval: '10m',
      accessTokenTtl: '5m',
      refreshTokenTtl: '5m',
      clockTolerance: '0s',
      scheduleRotation: false,
    });
    rotation = moduleRef.get(KeyRotationService);
    tokens = moduleRef.get(TokenService);
  });
  afterEach(async () => {
    await moduleRef.close();
    vi.useRealTimers();
  });

  it('publishes a next key a whole window before it signs', async () => {
    const keys = await rotation.listKeys();
    // KEYS_AHEAD = 2: two keys published ahead, each a whole window before the one before it retires.
    expect(keys.map((k) => k.status)).toEqual(['current', 'next', 'next']);
    const [current, next, afterNext] = keys;
    expect(next.activatesAt.getTime()).toBe(current.retiresAt.getTime());
    expect(afterNext.activatesAt.getTime()).toBe(next.retiresAt.getTime());
    expect(next.activatesAt.getTime() - Date.now()).toBe(10 * MINUTE);
    expect(current.expiresAt.getTime()).toBe(current.retiresAt.getTime() + 5 * MINUTE);
    for (const key of keys)
      expect(Object.keys(key).sort()).toEqual(['activatesAt', 'alg', 'createdAt', 'expiresAt', 'kid', 'retiresAt', 'status']);
  });

  it('rotates at the window boundary: old tokens verify, new ones carry the next kid', async () => {
    const [current, next] = await rotation.listKeys();
    vi.setSystemTime(next.activatesAt.getTime() - MINUTE);
    const before = tokens.sign({}, { subject: 'a' });
    expect(kidOf(before)).toBe(current.kid);

    vi.setSystemTime(next.activatesAt.getTime());
    // No tick yet: the next key is already in memory and takes over at its activation time.
    const after = tokens.sign({}, { subject: 'a' });
    expect(kidOf(after)).toBe(next.kid);
    expect(tokens.verify(before).sub).toBe('a');

    await rotation.reconcile();
    const statuses = Object.fromEntries((await rotation.listKeys()).map((k) => [k.kid, k.status]));
    expect(statuses[current.kid]).toBe('retired');
    expect(statuses[next.kid]).toBe('current');
    expect(Object.values(statuses).filter((s) => s === 'next')).toHaveLength(2);
  });

  it('drops a key once no token it signed can be valid, and its tokens with it', async () => {
    const [current] = await rotation.listKeys();
    const token = tokens.sign({}, { expiresIn: '5m' });
    vi.setSystemTime(current.expiresAt.getTime() + 1);
    await rotation.reconcile();
    expect((await rotation.listKeys()).map((k) => k.kid)).not.toContain(current.kid);
    expect(() => tokens.verify(token)).toThrow(expect.objectContaining({ code: 'ERR_JWT_KEY_UNKNOWN' }));
  });

  it('catches up after missed ticks, on the same grid of windows', async () => {
    const [current] = await rotation.listKeys();
    vi.setSystemTime(Date.now() + 35 * MINUTE);
    await rotation.reconcile();
    const now = (await rotation.listKeys()).find((k) => k.status === 'current')!;
    expect((now.activatesAt.getTime() - current.activatesAt.getTime()) % (10 * MINUTE)).toBe(0);
    expect(now.activatesAt.getTime()).toBeLessThanOrEqual(Date.now());
    expect(now.retiresAt.getTime()).toBeGreaterThan(Date.now());
  });

  it('rotateNow promotes the key already published as next and publishes a fresh next one', async () => {
    const [, next] = await rotation.listKeys();
    const before = tokens.sign({});
    expect(await rotation.rotateNow()).toBe(next.kid);
    expect(kidOf(tokens.sign({}))).toBe(next.kid);
    expect(tokens.verify(before).jti).toBeTypeOf('string');
    const keys = await rotation.listKeys();
    expect(keys.filter((k) => k.status === 'next')).toHaveLength(2);
    expect(keys.filter((k) => k.status === 'next').map((k) => k.kid)).not.toContain(next.kid);
  });

  it('rotateNow and revoking the current key leave the published keys back to back, so no unpublished key ever signs', async () => {
    const contiguous = async () => {
      const live = (await rotation.listKeys()).filter((k) => k.status === 'current' || k.status === 'next');
      for (let i = 1; i < live.length; i++) expect(live[i].activatesAt.getTime()).toBe(live[i - 1].retiresAt.getTime());
      return live;
    };
    const [, first, second] = await contiguous();
    await rotation.rotateNow();
    const [current] = await contiguous();
    await rotation.revokeKey(current.kid);
    const [promoted] = await contiguous();
    expect([first.kid, second.kid]).toEqual([current.kid, promoted.kid]);
    // A whole window later the key that signs is one that was published before it.
    const published = new Set((await rotation.listKeys()).map((k) => k.kid));
    vi.setSystemTime(promoted.retiresAt.getTime() + 1);
    await rotation.reconcile();
    expect(published).toContain(kidOf(tokens.sign({})));
  });

  it('reconcile run many times at once creates nothing twice', async () => {
    vi.setSystemTime(Date.now() + 10 * MINUTE + 1);
    await Promise.all(Array.from({ length: 10 }, () => rotation.reconcile()));
    const keys = await rotation.listKeys();
    expect(keys.map((k) => k.status).sort()).toEqual(['current', 'next', 'next', 'retired']);
  });

  it('revoking the current key promotes the next one and kills its tokens', async () => {
    const [current, next] = await rotation.listKeys();
    const token = tokens.sign({});
    expect(await rotation.revokeKey(current.kid)).toBe(true);
    expect(() => tokens.verify(token)).toThrow(expect.objectContaining({ code: 'ERR_JWT_KEY_REVOKED' }));
    expect(kidOf(tokens.sign({}))).toBe(next.kid);
    expect(await rotation.revokeKey('no-such-kid')).toBe(false);
  });
});
