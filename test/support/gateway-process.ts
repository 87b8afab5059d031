/**
 * Processes a reliability test starts and kills: the production gateway as a child process (`node src/server.ts`,
 * configured only through its ISOGW_* variables, exactly as an operator runs it), and private redis-server
 * instances on ports of their own, which a test may SIGKILL and restart without touching the shared Redis.
 *
 * Every child is killed by its own handle (never by name), and a process-exit hook SIGKILLs whatever a failing
 * test left running, so no gateway or redis-server outlives its test file.
 *
 * @example
 * const redis = await startRedisServer();
 * const gateway = gatewayProcess(gatewayProcessEnv({ as, port, databaseUrl: db.url, redisUrl: redis.url }));
 * await gateway.start();
 * await gateway.kill(); // SIGKILL: no shutdown hook runs, in-flight transactions die with their connections
 * await gateway.start(); // same port, same database, same Redis
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import type { TestAuthorizationServer } from './authz.ts';
import { freePort } from './gateway.ts';

const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Boot compiles every pacs.008/head.001 schema; on a loaded 2-core CI box that can take a while. */
const READY_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 10_000;

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** The ISOGW_* environment of a gateway using the test PKI and the test authorization server. */
export function gatewayProcessEnv(options: {
  as: TestAuthorizationServer;
  port: number;
  databaseUrl: string;
  redisUrl: string;
}): Record<string, string> {
  const { as, port } = options;
  return {
    ISOGW_HOST: '127.0.0.1',
    ISOGW_PORT: String(port),
    ISOGW_EXTERNAL_URL: `https://localhost:${port}`,
    ISOGW_TLS_CERT_FILE: as.pki.serverCert,
    ISOGW_TLS_KEY_FILE: as.pki.serverKey,
    ISOGW_CLIENT_CA_FILE: as.pki.caCert,
    ISOGW_AS_ISSUER: as.issuer,
    ISOGW_AS_CA_FILE: as.pki.caCert,
    ISOGW_AUDIENCE: as.gatewayAudience,
    ISOGW_PARTNERS_FILE: as.pki.registry,
    ISOGW_REDIS_URL: options.redisUrl,
    ISOGW_DATABASE_URL: options.databaseUrl,
    ISOGW_DATABASE_ROLE: 'isogw_app',
  };
}

export interface ChildHandle {
  /** Starts the process (again) and resolves once it is ready; rejects with its output if it dies first. */
  start(): Promise<void>;
  /** SIGKILL, and resolves once the process has exited. No-op when it is not running. */
  kill(): Promise<void>;
  /** Sends `signal` (SIGTERM, SIGINT…) without waiting; false when the process is not running. */
  signal(signal: NodeJS.Signals): boolean;
  /** How the current (or last) run ended, once it has; rejects if it has not within `timeoutMs`. */
  exit(timeoutMs?: number): Promise<ChildExit>;
  readonly running: boolean;
  /** How many times it was started. */
  readonly starts: number;
  /** Everything the process wrote (all runs), for failure messages. */
  output(): string;
}

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface ChildSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  /** A line of stdout that says the process is ready. */
  readonly ready: RegExp;
}

function childHandle(spec: ChildSpec): ChildHandle {
  let child: ChildProcess | undefined;
  let exited: Promise<ChildExit> = Promise.resolve({ code: null, signal: null });
  let starts = 0;
  let log = '';

  return {
    get running() {
      return child !== undefined;
    },
    get starts() {
      return starts;
    },
    output: () => log,
    start() {
      if (child !== undefined) return Promise.reject(new Error(`${spec.name} is already running`));
      starts += 1;
      const started = spawn(spec.command, [...spec.args], {
        cwd: REPOSITORY_ROOT,
        // Only what the process needs: no NODE_OPTIONS or loaders of the test runner, no DATABASE_URL fallbacks.
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...spec.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = started;
      running.add(started);
      exited = new Promise((resolve) =>
        started.once('exit', (code, signal) => {
          running.delete(started);
          if (child === started) child = undefined;
          resolve({ code, signal });
        }),
      );
      return new Promise<void>((resolve, reject) => {
        let stdout = '';
        const timer = setTimeout(() => {
          started.kill('SIGKILL');
          reject(new Error(`${spec.name} not ready within ${READY_TIMEOUT_MS} ms:\n${log}`));
        }, READY_TIMEOUT_MS);
        started.stdout!.on('data', (chunk: Buffer) => {
          const text = chunk.toString('utf8');
          log += text;
          stdout += text;
          if (spec.ready.test(stdout)) {
            clearTimeout(timer);
            resolve();
          }
        });
        started.stderr!.on('data', (chunk: Buffer) => {
          log += chunk.toString('utf8');
        });
        started.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`${spec.name} exited (code ${code}, signal ${signal}) before it was ready:\n${log}`));
        });
      });
    },
    signal(signal) {
      return child?.kill(signal) ?? false;
    },
    async exit(timeoutMs = EXIT_TIMEOUT_MS) {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([
        exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${spec.name} did not exit within ${timeoutMs} ms:\n${log}`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    },
    async kill() {
      const current = child;
      if (current === undefined) return;
      current.kill('SIGKILL');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        exited,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${spec.name} (pid ${current.pid}) did not exit after SIGKILL`)), EXIT_TIMEOUT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
    },
  };
}

/** `node src/server.ts` with exactly `env`; ready when it prints its listening line. */
export function gatewayProcess(env: Record<string, string>): ChildHandle {
  return childHandle({
    name: 'gateway (node src/server.ts)',
    command: process.execPath,
    args: ['src/server.ts'],
    env,
    ready: /iso20022-gateway listening on /,
  });
}

export interface PrivateRedis extends ChildHandle {
  readonly port: number;
  readonly url: string;
}

/**
 * A redis-server of our own on a free loopback port (or `port`), without persistence: killing it loses every key,
 * as a Redis failover without replication would. `start()` after `kill()` brings it back empty on the same port.
 */
export async function startRedisServer(port?: number): Promise<PrivateRedis> {
  const chosen = port ?? (await freePort());
  const handle = childHandle({
    name: `redis-server :${chosen}`,
    command: 'redis-server',
    args: ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'notice'],
    env: {},
    ready: /Ready to accept connections/,
  });
  await handle.start();
  return {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    start: () => handle.start(),
    kill: () => handle.kill(),
    signal: (signal) => handle.signal(signal),
    exit: (timeoutMs) => handle.exit(timeoutMs),
    output: () => handle.output(),
    get running() {
      return handle.running;
    },
    get starts() {
      return handle.starts;
    },
  };
}
