import { Injectable } from '@nestjs/common';
import { scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  length: number,
  options: { N: number; r: number; p: number },
) => Promise<Buffer>;

export interface User {
  username: string;
  roles: string[];
  permissions: string[];
}

interface StoredUser extends User {
  /** `scrypt$N$r$p$salt$hash`, base64url. */
  passwordHash: string;
}

/** Two demo users. A real app keeps these in its database; only the hashes are ever stored. */
const USERS: readonly StoredUser[] = [
  {
    username: 'alice',
    roles: ['admin'],
    permissions: ['articles:write'],
    passwordHash: 'scrypt$16384$8$1$nFCbE_c_xkVFsiPxsb-DZg$gT8t8HhQyKBqA2s3SS-TyH9X8MPcBRkBwWRlcgx9fYI',
  },
  {
    username: 'bob',
    roles: ['user'],
    permissions: [],
    passwordHash: 'scrypt$16384$8$1$ZmYrFHHkqP9K-FlTW-NHJg$A0uvjNWWL5IBIv4GjJJF31oJEi-txS6-YL3zFPmjKMU',
  },
];
/** Checked for unknown usernames too, so a login takes as long whether the user exists or not. */
const DUMMY_HASH = USERS[0].passwordHash;

@Injectable()
export class UsersService {
  async verifyPassword(username: string, password: string): Promise<User | undefined> {
    const user = USERS.find((u) => u.username === username);
    const matches = await verifyScrypt(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !matches) return undefined;
    return { username: user.username, roles: [...user.roles], permissions: [...user.permissions] };
  }
}

async function verifyScrypt(password: string, encoded: string): Promise<boolean> {
  const [, n, r, p, salt, hash] = encoded.split('$');
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(actual, expected);
}
