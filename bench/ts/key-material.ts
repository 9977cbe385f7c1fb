import type { INestApplicationContext } from '@nestjs/common';
import type { JsonWebKey } from 'node:crypto';
import { JWT_ROTATION_OPTIONS, KEY_ENCRYPTION, storeKeys } from '../../libs/jwt-rotation/src/jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../../libs/jwt-rotation/src/jwt-rotation.options';
import type { EncryptedMaterial, KeyEncryption } from '../../libs/jwt-rotation/src/keys/key-encryption';
import { KeyRing } from '../../libs/jwt-rotation/src/keys/key-ring';
import { ROTATION_STORE, type RotationStore } from '../../libs/jwt-rotation/src/store/rotation-store';

export interface SigningKeyMaterial {
  kid: string;
  alg: string;
  jwk: JsonWebKey;
}

/**
 * The key the ring signs with now, as a JWK, read back from the store the way the library loads
 * it. Bench-only: the other libraries need the same secret to verify the library's tokens.
 */
export async function readSigningKey(context: Pick<INestApplicationContext, 'get'>): Promise<SigningKeyMaterial> {
  const lookup = { strict: false } as const;
  const signer = context.get(KeyRing, lookup).signer(Date.now());
  if (!signer) throw new Error('The key ring has no signing key yet');
  const options = context.get<symbol, ResolvedJwtRotationOptions>(JWT_ROTATION_OPTIONS, lookup);
  const store = context.get<symbol, RotationStore>(ROTATION_STORE, lookup);
  const encryption = context.get<symbol, KeyEncryption>(KEY_ENCRYPTION, lookup);
  const { kid, alg } = signer.entry;
  const record = await store.get<{ material: EncryptedMaterial }>(storeKeys(options.keyPrefix).material(kid));
  if (!record) throw new Error(`No material in the store for ${kid}`);
  return { kid, alg, jwk: JSON.parse(encryption.decrypt(kid, record.material).toString('utf8')) as JsonWebKey };
}
