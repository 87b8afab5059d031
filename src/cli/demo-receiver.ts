/**
 * The demo partner bank's webhook receiver, as a partner would write it: plain HTTP on loopback (the demo gateway
 * allows that; production endpoints are https), no code of ours. Every request is verified twice, independently:
 *   - `v1` (HMAC-SHA256 under the whsec_ secret) with the published `standardwebhooks` library — what partners run.
 *     It is a devDependency: `npm ci` (the README's command) installs it, like the pinned Node.js that runs the demo;
 *     an install with --omit=dev has neither, so the demo is not meant to run there;
 *   - `v1a` (Ed25519 under the whpk_ public key) with node:crypto, which the library does not do.
 * It answers 204 only to what verifies; anything else is 401, and the gateway retries it later.
 */
import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Webhook } from 'standardwebhooks';

export const RECEIVER_LIMITS = Object.freeze({
  /** Of a webhook body read; ours are a few kilobytes (the pacs.002 included). */
  bodyBytesMax: 1024 * 1024,
  /** Standard Webhooks' tolerance for webhook-timestamp against our clock (the library's own). */
  timestampToleranceSeconds: 5 * 60,
  /** Requests remembered; a runaway sender cannot grow the list further. */
  requestsMax: 1_000,
});

export interface ReceivedWebhook {
  readonly webhookId: string;
  /** `v1` verified by standardwebhooks (signature and timestamp). */
  readonly v1: boolean;
  /** `v1a` verified with the endpoint's Ed25519 public key. */
  readonly v1a: boolean;
  readonly type: string;
  readonly uetr: string;
  readonly sequence: number;
  readonly status: string;
  readonly reason: string | undefined;
  /** What we answered. */
  readonly answered: number;
}

export interface DemoReceiver {
  /** http://127.0.0.1:<port>/webhooks */
  readonly url: string;
  /** The keys from the endpoint's registration (or rotation); until then nothing verifies. */
  trust(keys: { readonly secret: string; readonly publicKey: string }): void;
  /** Every request so far, in arrival order. */
  received(): readonly ReceivedWebhook[];
  close(): Promise<void>;
}

export async function startDemoReceiver(): Promise<DemoReceiver> {
  const requests: ReceivedWebhook[] = [];
  let keys: { readonly webhook: Webhook; readonly publicKey: KeyObject } | undefined;

  const handle = (request: IncomingMessage, response: ServerResponse, body: Buffer | undefined): void => {
    const header = (name: string): string => String(request.headers[name] ?? '');
    const headers = { 'webhook-id': header('webhook-id'), 'webhook-timestamp': header('webhook-timestamp'), 'webhook-signature': header('webhook-signature') };
    const text = body?.toString('utf8') ?? '';
    let v1 = false;
    let v1a = false;
    if (keys !== undefined && body !== undefined) {
      try {
        keys.webhook.verify(text, headers);
        v1 = true;
      } catch {
        // not verified: answered 401 below
      }
      v1a = verifyV1a(keys.publicKey, headers, text);
    }
    let event: { type?: unknown; data?: { uetr?: unknown; sequence?: unknown; status?: unknown; reason?: unknown } } = {};
    try {
      event = JSON.parse(text) as typeof event;
    } catch {
      // recorded without fields
    }
    const answered = v1 && v1a ? 204 : 401;
    if (requests.length < RECEIVER_LIMITS.requestsMax) {
      requests.push({
        webhookId: headers['webhook-id'],
        v1,
        v1a,
        type: typeof event.type === 'string' ? event.type : '?',
        uetr: typeof event.data?.uetr === 'string' ? event.data.uetr : '?',
        sequence: typeof event.data?.sequence === 'number' ? event.data.sequence : 0,
        status: typeof event.data?.status === 'string' ? event.data.status : '?',
        reason: typeof event.data?.reason === 'string' ? event.data.reason : undefined,
        answered,
      });
    }
    response.writeHead(answered).end();
  };

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= RECEIVER_LIMITS.bodyBytesMax) chunks.push(chunk);
    });
    request.on('end', () => handle(request, response, bytes <= RECEIVER_LIMITS.bodyBytesMax ? Buffer.concat(chunks) : undefined));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    trust(given) {
      keys = { webhook: new Webhook(given.secret), publicKey: ed25519PublicKey(given.publicKey) };
    },
    received: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `whpk_<base64 of the raw 32-byte Ed25519 public key>` as a key object. */
function ed25519PublicKey(text: string): KeyObject {
  if (!text.startsWith('whpk_')) throw new TypeError('the webhook public key should start with whpk_');
  const raw = Buffer.from(text.slice('whpk_'.length), 'base64');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/** Standard Webhooks `v1a`: any listed v1a signature is an Ed25519 signature of `${id}.${timestamp}.${body}`, timestamp within tolerance. */
function verifyV1a(key: KeyObject, headers: Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string>, body: string): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  if (id === '' || !/^\d{1,15}$/.test(timestamp)) return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > RECEIVER_LIMITS.timestampToleranceSeconds) return false;
  const content = Buffer.from(`${id}.${timestamp}.${body}`, 'utf8');
  return headers['webhook-signature'].split(' ').some((versioned) => {
    const [scheme, signature] = versioned.split(',');
    if (scheme !== 'v1a' || signature === undefined) return false;
    const bytes = Buffer.from(signature, 'base64');
    return bytes.length === 64 && verifySignature(null, content, key, bytes);
  });
}
