/**
 * What every ReplayStore must do, whatever holds the keys (Redis for any number of gateways, memory for the embedded
 * single instance): the first claim of a key within its lifetime wins, every later or concurrent one loses, keys are
 * independent, and a key can be claimed again once its lifetime has passed.
 *
 * @example
 * describe.each(subjects)('ReplayStore on $name', (subject) => replayStoreContract(subject));
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { expect, it } from 'vitest';

import type { ReplayStore } from '../../src/security/replay-store.ts';

export interface ReplayStoreSubject {
  readonly name: string;
  /** A store with a namespace of its own (called inside tests, after the file's beforeAll). */
  create(): ReplayStore;
}

export function replayStoreContract(subject: ReplayStoreSubject): void {
  it('accepts the first claim of a key and refuses every later one', async () => {
    const store = subject.create();
    const key = `dpop:jkt:${randomUUID()}`;
    expect(await store.claimOnce(key, 60)).toBe(true);
    expect(await store.claimOnce(key, 60)).toBe(false);
    expect(await store.claimOnce(key, 60)).toBe(false);
  });

  it('keeps keys apart', async () => {
    const store = subject.create();
    const jti = randomUUID();
    expect(await store.claimOnce(`dpop:key-a:${jti}`, 60)).toBe(true);
    expect(await store.claimOnce(`dpop:key-b:${jti}`, 60)).toBe(true);
  });

  it('lets exactly one of 50 concurrent claims of one key through', async () => {
    const store = subject.create();
    const key = `dpop:jkt:${randomUUID()}`;
    const answers = await Promise.all(Array.from({ length: 50 }, () => store.claimOnce(key, 60)));
    expect(answers.filter(Boolean)).toHaveLength(1);
  });

  it('lets a key be claimed again once its lifetime has passed, and not before', async () => {
    const store = subject.create();
    const key = `dpop:jkt:${randomUUID()}`;
    expect(await store.claimOnce(key, 1)).toBe(true);
    expect(await store.claimOnce(key, 1)).toBe(false);
    await sleep(1_200);
    expect(await store.claimOnce(key, 1)).toBe(true);
  });
}
