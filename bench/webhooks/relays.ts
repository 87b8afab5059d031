/**
 * The relays under test, each as the production `isogw relay` command in a child process of its own: its CPU is then
 * its own (not the producer's or the receiver's event loop), it is configured exactly as a deployment configures it
 * (environment variables, production WEBHOOK_LIMITS: 32 deliveries in flight, 8 connections per endpoint, 1 s
 * polling behind LISTEN/NOTIFY), and its CPU time and memory are read from /proc by bench/lib/process-sampler.ts
 * without its cooperation. `--cpu-prof` profiles go where the caller says (one .cpuprofile per relay, at exit).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { ProcessSampler } from '../lib/process-sampler.ts';

const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A relay starts in well under a second; a loaded machine gets generous room. */
const READY_TIMEOUT_MS = 30_000;
/** SIGTERM finishes the deliveries in flight (each bounded by the sender's timeouts: 25 s at most). */
const EXIT_TIMEOUT_MS = 40_000;
/** How often the relay's CPU and memory are read. */
export const RELAY_SAMPLE_INTERVAL_MS = 250;

export interface RelayChild {
  readonly id: string;
  readonly pid: number;
  readonly sampler: ProcessSampler;
  /** performance.now() when it said it was running. */
  readonly readyAt: number;
  /** stderr so far (errors and warnings; stdout has only the "running" line with --quiet). */
  output(): string;
  /** SIGTERM, then waits for a graceful exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export interface RelayStartOptions {
  readonly id: string;
  readonly databaseUrl: string;
  /** A directory for `node --cpu-prof` output; undefined = no profile. */
  readonly cpuProfileDir?: string | undefined;
}

export async function startRelay(options: RelayStartOptions): Promise<RelayChild> {
  const nodeFlags = options.cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`, `--cpu-prof-name=${options.id}.cpuprofile`];
  const child = spawn(process.execPath, [...nodeFlags, 'src/cli/main.ts', 'relay', '--quiet', '--relay-id', options.id], {
    cwd: REPOSITORY_ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      ISOGW_DATABASE_URL: options.databaseUrl,
      // The receiver is plain http on loopback: development mode for the sender (no other setting changes).
      ISOGW_WEBHOOK_ALLOW_INSECURE: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let log = '';
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  child.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8');
  });
  const readyAt = await new Promise<number>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`relay ${options.id} not running within ${READY_TIMEOUT_MS} ms:\n${log}`));
    }, READY_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (/^isogw relay \S+ running$/m.test(stdout)) {
        clearTimeout(timer);
        resolve(performance.now());
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`relay ${options.id} exited (code ${code}, signal ${signal}) before it was running:\n${log}`));
    });
  });
  const sampler = new ProcessSampler(child.pid!, RELAY_SAMPLE_INTERVAL_MS).start();
  return {
    id: options.id,
    pid: child.pid!,
    sampler,
    readyAt,
    output: () => log,
    stop: async () => {
      sampler.sample();
      sampler.stop();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          exited,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              child.kill('SIGKILL');
              reject(new Error(`relay ${options.id} did not exit within ${EXIT_TIMEOUT_MS} ms of SIGTERM:\n${log}`));
            }, EXIT_TIMEOUT_MS);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
