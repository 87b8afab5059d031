/**
 * The development PKI for tests, in test/.pki (git-ignored): created on first use, reused afterwards.
 *
 * Vitest runs test files in parallel workers, and several may ask for the PKI at the same moment. Atomic writes
 * alone are not enough: two workers starting from an empty directory would each create their own CA and could end
 * with one's server certificate next to the other's CA. So the first caller takes a lock (mkdir is atomic), and the
 * others wait and then find everything in place, which costs them a few file reads.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { createDevPki, type DevPkiFiles } from '../../src/certs/dev-pki.ts';

export const TEST_PKI_DIR = fileURLToPath(new URL('../.pki', import.meta.url));
const LOCK_DIR = `${TEST_PKI_DIR}.lock`;
/** Give up waiting for another worker after this long: creating the PKI takes well under a second. */
const LOCK_WAIT_MS_MAX = 60_000;
const LOCK_POLL_MS = 20;
/** A lock older than this was left by a worker that died while holding it. */
const LOCK_STALE_MS = 30_000;

let pending: Promise<DevPkiFiles> | undefined;

/** The test PKI; created once per process (per test file under vitest isolation), concurrently safe across workers. */
export function devPki(): Promise<DevPkiFiles> {
  pending ??= withLock(() => createDevPki(TEST_PKI_DIR));
  return pending;
}

async function withLock<T>(work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS_MAX;
  for (;;) {
    try {
      await mkdir(LOCK_DIR);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const age = await stat(LOCK_DIR).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > LOCK_STALE_MS) await rm(LOCK_DIR, { recursive: true, force: true });
    if (Date.now() > deadline) throw new Error(`test PKI: ${LOCK_DIR} still locked after ${LOCK_WAIT_MS_MAX} ms`);
    await sleep(LOCK_POLL_MS);
  }
  try {
    return await work();
  } finally {
    await rm(LOCK_DIR, { recursive: true, force: true });
  }
}
