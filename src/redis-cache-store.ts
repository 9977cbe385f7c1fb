import type KeyvRedis from '@keyv/redis';
import { createKeyv } from '@keyv/redis';
import type { Keyv } from 'keyv';

/** How long shutdown waits for Redis before it drops the connection. */
export const REDIS_SHUTDOWN_GRACE_MS = 2000;

/**
 * The app's Redis cache store: `@keyv/redis` with errors thrown (the library needs them), and a
 * disconnect that cannot hang shutdown. CacheModule disconnects its stores when the app closes,
 * and node-redis `close()` waits for every pending command: with Redis stopped or stalled, for
 * ever, so a SIGTERM never ended the process. Here a PING answered within the grace (Redis answers
 * in order, so every command sent before it has had its answer) leads to a graceful close; no
 * answer, and the connection is dropped. What is dropped was never acknowledged to a client.
 */
export function createRedisCacheStore(url: string, graceMs = REDIS_SHUTDOWN_GRACE_MS): Keyv {
  const keyv = createKeyv(url, { throwOnErrors: true });
  const { client } = keyv.store as KeyvRedis<unknown>;
  keyv.disconnect = async () => {
    if (!client.isOpen) return;
    if (await within(client.ping(), graceMs)) {
      await within(client.close(), graceMs);
    } else {
      client.destroy();
    }
  };
  return keyv;
}

/** Whether `promise` settled successfully within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => false,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
