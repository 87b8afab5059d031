/**
 * A real HTTP(S) webhook receiver for tests, on 127.0.0.1 and port 0: it records every request, verifies each with
 * the published `standardwebhooks` library (what partners will run, not our own code), and answers as the test's
 * behaviour says — a status with headers, a connection reset, or never (to make the sender's timeout fire).
 *
 * Verification uses `new Webhook(secret).verify(body, headers)`, which throws on a bad signature and on a timestamp
 * outside its tolerance; with several secrets (a key rotation) a request is verified if any of them verifies it.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { Webhook } from 'standardwebhooks';

export interface ReceivedRequest {
  readonly id: string | undefined;
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** Date.now() when the request's headers arrived. */
  readonly receivedAtMs: number;
  readonly verified: boolean;
  readonly verifyError?: string;
  /** The parsed JSON body, when verified. */
  readonly payload?: unknown;
  /** What the receiver did: e.g. '200', '503 retry-after=1', 'reset', 'hang'. */
  readonly answer: string;
}

export type ReceiverAnswer = { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string } | { readonly reset: true } | { readonly hang: true };

export type ReceiverBehaviour = (request: {
  readonly id: string | undefined;
  /** How many requests with this webhook-id came before this one. */
  readonly seen: number;
  readonly body: string;
}) => ReceiverAnswer;

export interface WebhookReceiver {
  /** http://127.0.0.1:<port>/hooks (https:// with `tls`). */
  readonly url: string;
  readonly port: number;
  readonly requests: readonly ReceivedRequest[];
  /** whsec_… secrets; a request is verified if ANY of them verifies it (rotation). */
  setSecrets(secrets: readonly string[]): void;
  setBehaviour(behaviour: ReceiverBehaviour): void;
  /** Verified requests answered 2xx. */
  delivered(): ReceivedRequest[];
  /** Resolves once `predicate` holds (polled); rejects with what was received after `timeoutMs` (default 10 s). */
  waitFor(predicate: (receiver: WebhookReceiver) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Bodies beyond this are cut off by the receiver (a test sender never sends one; this only bounds a runaway). */
const RECEIVER_BODY_BYTES_MAX = 4 * 1024 * 1024;
const WAIT_FOR_TIMEOUT_MS_DEFAULT = 10_000;
const WAIT_FOR_POLL_MS = 20;

export const answerOk: ReceiverBehaviour = () => ({ status: 200 });

export async function startWebhookReceiver(
  options: { secrets?: readonly string[]; behaviour?: ReceiverBehaviour; tls?: { cert: string; key: string } } = {},
): Promise<WebhookReceiver> {
  let secrets: readonly string[] = options.secrets ?? [];
  let behaviour: ReceiverBehaviour = options.behaviour ?? answerOk;
  const requests: ReceivedRequest[] = [];
  const statuses = new WeakMap<ReceivedRequest, number>();
  const sockets = new Set<Socket>();

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const receivedAtMs = Date.now();
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= RECEIVER_BODY_BYTES_MAX) chunks.push(chunk);
    });
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = flatHeaders(request);
      const id = headers['webhook-id'];
      const seen = requests.filter((r) => r.id !== undefined && r.id === id).length;
      const verification = verify(secrets, body, headers);
      let answer: ReceiverAnswer;
      try {
        answer = behaviour({ id, seen, body });
      } catch (error) {
        answer = { status: 500, body: `test behaviour threw: ${(error as Error).message}` };
      }
      const record: ReceivedRequest = {
        id,
        timestamp: headers['webhook-timestamp'],
        signature: headers['webhook-signature'],
        headers,
        body,
        receivedAtMs,
        ...verification,
        answer: describe(answer),
      };
      requests.push(record);
      if ('reset' in answer) {
        request.socket.resetAndDestroy();
      } else if ('status' in answer) {
        statuses.set(record, answer.status);
        response.writeHead(answer.status, answer.headers);
        response.end(answer.body ?? '');
      }
      // hang: never answer; close() destroys the socket.
    });
  };

  const server: Server = options.tls === undefined ? createHttpServer(handle) : createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handle);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const receiver: WebhookReceiver = {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}/hooks`,
    port,
    requests,
    setSecrets(next) {
      secrets = next;
    },
    setBehaviour(next) {
      behaviour = next;
    },
    delivered() {
      return requests.filter((r) => {
        const status = statuses.get(r);
        return r.verified && status !== undefined && status >= 200 && status < 300;
      });
    },
    async waitFor(predicate, timeoutMs = WAIT_FOR_TIMEOUT_MS_DEFAULT) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(receiver)) {
        if (Date.now() > deadline) {
          const seen = requests.map((r) => `${r.id ?? '(no id)'} → ${r.answer}${r.verified ? '' : ` (unverified: ${r.verifyError})`}`);
          throw new Error(`webhook receiver: condition not met within ${timeoutMs} ms; received ${requests.length}: ${seen.join('; ') || 'nothing'}`);
        }
        await sleep(WAIT_FOR_POLL_MS);
      }
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
  return receiver;
}

function flatHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function verify(secrets: readonly string[], body: string, headers: Record<string, string>): { verified: boolean; verifyError?: string; payload?: unknown } {
  if (secrets.length === 0) return { verified: false, verifyError: 'no secret configured' };
  const errors: string[] = [];
  for (const secret of secrets) {
    try {
      return { verified: true, payload: new Webhook(secret).verify(body, headers) };
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  return { verified: false, verifyError: errors.join('; ') };
}

function describe(answer: ReceiverAnswer): string {
  if ('reset' in answer) return 'reset';
  if ('hang' in answer) return 'hang';
  const headers = Object.entries(answer.headers ?? {}).map(([name, value]) => ` ${name.toLowerCase()}=${value}`);
  return `${answer.status}${headers.join('')}`;
}
