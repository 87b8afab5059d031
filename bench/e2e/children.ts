/**
 * The parent's side of the server processes (servers.ts): fork with the environment and Node flags a role needs,
 * wait until it listens, close it. Their pids are what the process sampler reads /proc for.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import type { DevPkiFiles } from '../../src/certs/dev-pki.ts';

const SERVERS = fileURLToPath(new URL('./servers.ts', import.meta.url));
/** Starting the gateway compiles every XSD and the AS builds oidc-provider: seconds, not minutes. */
const READY_TIMEOUT_MS = 90_000;
/** A child that does not exit this long after being asked is killed. */
const CLOSE_TIMEOUT_MS = 15_000;

export type ChildRole = 'gateway' | 'authz' | 'baseline';

export interface ChildSettings {
  readonly pki: DevPkiFiles;
  readonly redisUrl: string;
  /** Every Redis key a child writes starts with it; removed on close. */
  readonly redisKeyPrefix: string;
  /** The gateway's external origin (the token audience), chosen before anything starts. */
  readonly gatewayOrigin: string;
  /** The authorization server's access-token lifetime; undefined = its default. */
  readonly accessTokenTtlSeconds?: number | undefined;
  /** The baseline's fixed answer: a real pacs.002 the gateway gave. */
  readonly baselineAnswer?: string;
}

export type ChildReady =
  | { readonly type: 'ready'; readonly role: 'gateway'; readonly port: number }
  | { readonly type: 'ready'; readonly role: 'authz'; readonly issuer: string; readonly tokenEndpoint: string }
  | { readonly type: 'ready'; readonly role: 'baseline'; readonly port: number };

export interface ChildServer<R extends ChildReady = ChildReady> {
  readonly role: ChildRole;
  readonly pid: number;
  readonly ready: R;
  close(): Promise<void>;
}

export async function startChild<R extends ChildReady>(
  role: R['role'],
  settings: ChildSettings,
  options: { env?: NodeJS.ProcessEnv; execArgv?: readonly string[] } = {},
): Promise<ChildServer<R>> {
  // stdout ignored (nothing to say), stderr inherited so a crash is visible, plus the IPC channel.
  const child = fork(SERVERS, [role, JSON.stringify(settings)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: options.env ?? process.env,
    execArgv: [...process.execArgv, ...(options.execArgv ?? [])],
  });
  const ready = await new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role}: not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`${role} exited with code ${code} before it was ready`));
    };
    child.once('exit', onExit);
    child.on('message', function onMessage(message: { type?: string }) {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('message', onMessage);
      resolve(message as R);
    });
  }).catch((error: unknown) => {
    child.kill();
    throw error;
  });
  return { role, pid: child.pid ?? -1, ready, close: () => closeChild(child) };
}

async function closeChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ type: 'close' });
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
