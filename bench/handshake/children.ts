/**
 * The parent's side of the server processes (servers.ts): fork, wait until listening, ask for CPU time, close.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import type { ChildSettings, ReadyMessage, Role } from './protocol.ts';

const SERVERS = fileURLToPath(new URL('./servers.ts', import.meta.url));
/** Starting the gateway loads every XSD and the AS builds oidc-provider: seconds, not minutes. */
const READY_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 10_000;

export interface ServerProcess<R extends ReadyMessage = ReadyMessage> {
  readonly role: Role;
  readonly pid: number;
  readonly ready: R;
  /** User + system CPU time of the server process so far, in microseconds. */
  cpuMicros(): Promise<number>;
  close(): Promise<void>;
}

export async function startServerProcess<R extends ReadyMessage>(role: R['role'], settings: ChildSettings): Promise<ServerProcess<R>> {
  // stdout ignored (nothing to say), stderr inherited so a crash is visible, plus the IPC channel.
  const child = fork(SERVERS, [role, JSON.stringify(settings)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const ready = await new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} server: not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`${role} server exited with code ${code} before it was ready`));
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

  let nextId = 0;
  return {
    role,
    pid: child.pid ?? -1,
    ready,
    cpuMicros: () => ask(child, ++nextId),
    close: () => closeChild(child),
  };
}

function ask(child: ChildProcess, id: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: string; id?: number; micros?: number }): void => {
      if (message.type !== 'cpu' || message.id !== id) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message.micros ?? Number.NaN);
    };
    const onExit = (): void => reject(new Error('server process exited'));
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send({ type: 'cpu', id });
  });
}

async function closeChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ type: 'close' });
  const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
