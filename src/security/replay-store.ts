/**
 * The replay store port: "has this one-time value been seen before?" across every gateway instance. DPoP proof
 * jtis go through it (RFC 9449 §11.1). The Redis implementation claims a key with SET NX PX, atomically; when
 * Redis cannot answer in time the caller must refuse the request (fail closed), never let it through.
 */
import type { Redis } from 'ioredis';

export interface ReplayStore {
  /** True the first time `key` is claimed within `ttlSeconds`, false on every later claim. Throws if unavailable. */
  claimOnce(key: string, ttlSeconds: number): Promise<boolean>;
}

export class ReplayStoreUnavailable extends Error {
  override readonly name = 'ReplayStoreUnavailable';
}

export function createRedisReplayStore(redis: Redis, options: { keyPrefix: string; timeoutMs: number }): ReplayStore {
  return {
    async claimOnce(key, ttlSeconds) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ReplayStoreUnavailable(`replay store did not answer within ${options.timeoutMs} ms`)),
          options.timeoutMs,
        );
      });
      try {
        const answer = await Promise.race([redis.set(`${options.keyPrefix}${key}`, '1', 'EX', ttlSeconds, 'NX'), timeout]);
        return answer === 'OK';
      } catch (error) {
        if (error instanceof ReplayStoreUnavailable) throw error;
        throw new ReplayStoreUnavailable('replay store unavailable', { cause: error });
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
