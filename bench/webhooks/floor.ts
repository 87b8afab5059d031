/**
 * The parent's side of the HTTP floor (floor-sender.ts): write the job, fork the sender, align its clock with ours,
 * start it, sample its CPU, and hand back what it reported with its times translated into our performance.now().
 *
 * Clock alignment: the floor's latencies are the receiver's arrival time (our clock) minus the time a payment was
 * due (the child's clock). Both processes read the same system clock, but each derives its performance.now() origin
 * separately; a few IPC round trips (NTP-style: offset = child time − midpoint of our send and receive, from the
 * fastest round trip) bound the error by half that round trip, reported with the results (typically < 0.2 ms).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ProcessSampler } from '../lib/process-sampler.ts';
import type { ChildMessage, FloorJob, ParentMessage } from './floor-protocol.ts';
import { RELAY_SAMPLE_INTERVAL_MS } from './relays.ts';

const SENDER = fileURLToPath(new URL('./floor-sender.ts', import.meta.url));
/** Clock pings; the fastest round trip wins. */
const CLOCK_PINGS = 30;
/** Pre-signing tens of thousands of requests (Ed25519 included) takes seconds on a busy machine. */
const PREPARE_TIMEOUT_MS = 120_000;

export interface FloorRun {
  /** performance.now() (ours) when the sender began: payment k was due at startedAt + k / rate. */
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly sent: number;
  readonly statuses: Record<string, number>;
  readonly firstError: string | undefined;
  readonly lateStarts: number;
  /** Half the fastest clock round trip: the bound on the clock alignment's error, ms. */
  readonly clockErrorMs: number;
  readonly sampler: ProcessSampler;
}

export interface FloorSender {
  /** Resolves when the sender is prepared (requests signed) and its clock aligned. */
  readonly ready: Promise<void>;
  /** Starts sending; resolves with the report once every payment was sent. */
  run(): Promise<FloorRun>;
}

export function startFloorSender(job: FloorJob): FloorSender {
  const dir = mkdtempSync(join(tmpdir(), 'bench-webhooks-floor-'));
  const file = join(dir, 'job.json');
  writeFileSync(file, JSON.stringify(job));
  const child = fork(SENDER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const post = (message: ParentMessage): void => void child.send(message);
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const next = <T extends ChildMessage['type']>(type: T, timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`floor sender: no "${type}" within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (message: ChildMessage): void => {
        if (message.type !== type) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message as Extract<ChildMessage, { type: T }>);
      };
      const onExit = (code: number | null): void => {
        clearTimeout(timer);
        reject(new Error(`floor sender exited (code ${code}) while waiting for "${type}"`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });

  let offsetMs = 0;
  let clockErrorMs = Number.POSITIVE_INFINITY;
  const ready = (async () => {
    const prepared = next('prepared', PREPARE_TIMEOUT_MS);
    post({ type: 'job', file });
    await prepared;
    for (let id = 0; id < CLOCK_PINGS; id++) {
      const sentAt = performance.timeOrigin + performance.now();
      const reply = next('clock', 5_000);
      post({ type: 'clock', id });
      const { nowMs } = await reply;
      const receivedAt = performance.timeOrigin + performance.now();
      const halfRoundTrip = (receivedAt - sentAt) / 2;
      if (halfRoundTrip < clockErrorMs) {
        clockErrorMs = halfRoundTrip;
        offsetMs = nowMs - (sentAt + halfRoundTrip);
      }
    }
  })();
  ready.catch(() => {
    child.kill('SIGKILL');
    cleanup();
  });

  return {
    ready,
    async run() {
      await ready;
      const sampler = new ProcessSampler(child.pid!, RELAY_SAMPLE_INTERVAL_MS).start();
      // Sending takes as long as it takes (saturation: until every request is answered); no timeout of our own.
      const done = next('done', 2 ** 31 - 1);
      post({ type: 'go' });
      const report = await done;
      sampler.sample();
      sampler.stop();
      await exited;
      cleanup();
      const ours = (childMs: number): number => childMs - offsetMs - performance.timeOrigin;
      return {
        startedAt: ours(report.startedAtMs),
        finishedAt: ours(report.finishedAtMs),
        sent: report.sent,
        statuses: report.statuses,
        firstError: report.firstError,
        lateStarts: report.lateStarts,
        clockErrorMs,
        sampler,
      };
    },
  };
}
