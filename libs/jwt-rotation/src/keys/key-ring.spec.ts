import { describe, expect, it } from 'vitest';
import { KeyRing, type RingKey } from './key-ring';
import type { ScheduleEntry } from './key-schedule';
import { generateHmacJwk, prepareKey } from './prepared-key';

function ringKey(generation: number, activatesAt: number, retiresAt: number, revokedAt?: number): RingKey {
  const kid = `k${generation}`;
  const entry: ScheduleEntry = { generation, kid, alg: 'HS256', createdAt: 0, activatesAt, retiresAt, revokedAt };
  return { entry, key: prepareKey(kid, 'HS256', generateHmacJwk(32)), expiresAt: retiresAt + 100 };
}

describe('KeyRing', () => {
  it('signs with the key whose window holds now, and switches at the boundary', () => {
    const ring = new KeyRing();
    ring.replace([ringKey(0, 0, 100), ringKey(1, 100, 200)]);
    expect(ring.signer(50)?.entry.kid).toBe('k0');
    expect(ring.signer(99)?.entry.kid).toBe('k0');
    expect(ring.signer(100)?.entry.kid).toBe('k1');
  });

  it('never signs with a revoked key', () => {
    const ring = new KeyRing();
    ring.replace([ringKey(0, 0, 100, 10), ringKey(1, 100, 200)]);
    expect(ring.signer(50)).toBeUndefined();
  });

  it('never signs with an orphaned key (one the store no longer lists), even as the fallback, but keeps it for verifying', () => {
    const ring = new KeyRing();
    const orphan = { ...ringKey(1, 100, 200), orphaned: true as const };
    ring.replace([ringKey(0, 0, 150), orphan]);
    expect(ring.signer(120)?.entry.kid).toBe('k0');
    expect(ring.signer(500)?.entry.kid).toBe('k0');
    ring.replace([orphan]);
    expect(ring.signer(120)).toBeUndefined();
    expect(ring.get('k1')).toBe(orphan);
  });

  it('goes on signing with the latest key when the schedule has run out (store unreachable)', () => {
    const ring = new KeyRing();
    ring.replace([ringKey(0, 0, 100), ringKey(1, 100, 200)]);
    expect(ring.signer(500)?.entry.kid).toBe('k1');
  });

  it('verifies only what its own key signed', () => {
    const [a, b] = [ringKey(0, 0, 100), ringKey(1, 100, 200)];
    const signature = a.key.sign('header.payload');
    expect(a.key.verify('header.payload', signature)).toBe(true);
    expect(b.key.verify('header.payload', signature)).toBe(false);
    expect(a.key.verify('header.payload2', signature)).toBe(false);
    expect(a.key.verify('header.payload', signature.slice(0, -1))).toBe(false);
    // Same low byte, other character: a latin1 comparison would take it.
    const shifted = String.fromCharCode(signature.charCodeAt(0) + 0x100) + signature.slice(1);
    expect(a.key.verify('header.payload', shifted)).toBe(false);
  });
});
