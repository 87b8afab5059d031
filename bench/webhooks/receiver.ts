/**
 * The bench's webhook receiver: a node:http server on 127.0.0.1 that behaves like a careful partner — it verifies
 * every request's `v1` signature (with the published `standardwebhooks` library, or the same check written with
 * node:crypto's HMAC: see verifier-cost.ts for what each costs), checks a sample of the `v1a` Ed25519 signatures
 * too, answers 200 to what verifies and 401 to what does not — and records when each webhook-id arrived.
 *
 * Arrivals are attributed to the phase running at the time (begin/end), so one receiver serves the relay phases and
 * the HTTP floor's, and a request outside any phase is counted as such (a straggler from an earlier phase would be
 * a bug worth seeing). Arrival time = performance.now() when the request's headers were parsed: the moment the
 * receiver's application code first sees the request, in the same process and clock as the producer's commits.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import { Webhook } from 'standardwebhooks';

import { WEBHOOK_LIMITS } from '../../src/webhooks/limits.ts';
import { verifyAsymmetric } from '../../src/webhooks/signing.ts';

export const VERIFIERS = ['library', 'hmac'] as const;
export type VerifierKind = (typeof VERIFIERS)[number];

/** Bodies beyond this are refused (the relay's bodies are a few KB; this only bounds a runaway). */
const RECEIVER_BODY_BYTES_MAX = 1024 * 1024;

export interface ReceiverOptions {
  readonly verifier: VerifierKind;
  /** Check the v1a signature of every Nth request (Ed25519 verification costs ~0.1 ms; 0 = never). */
  readonly v1aEvery: number;
}

/** What one phase received. */
export class PhaseRecord {
  readonly name: string;
  /** webhook-id → performance.now() of its first verified arrival. */
  readonly firstArrival = new Map<string, number>();
  requests = 0;
  /** Verified requests whose webhook-id had arrived before in this phase. */
  duplicates = 0;
  /** Requests refused with 401 (bad or missing signature, stale timestamp, body not JSON). */
  unverified = 0;
  /** The first reasons for refusals, for the record. */
  readonly unverifiedReasons: string[] = [];
  v1aChecked = 0;
  v1aFailed = 0;
  bodyBytes = 0;
  firstAt = Number.NaN;
  lastAt = Number.NaN;

  constructor(name: string) {
    this.name = name;
  }

  get delivered(): number {
    return this.firstArrival.size;
  }
}

export interface BenchReceiver {
  /** http://127.0.0.1:<port>/hooks */
  readonly url: string;
  /** The endpoint's keys, once it is registered (at this URL): `whsec_…` for v1, `whpk_…` for v1a. Until then every request is refused. */
  setKeys(secret: string, publicKey: string): void;
  begin(name: string): PhaseRecord;
  end(): void;
  /** Requests that arrived while no phase was running. */
  readonly outside: () => number;
  close(): Promise<void>;
}

/** The receiver's verification of one request: throws with a reason when it does not verify. */
export type Verify = (body: string, headers: Record<string, string>) => unknown;

export function verifierFor(kind: VerifierKind, secret: string): Verify {
  if (kind === 'library') {
    const webhook = new Webhook(secret);
    return (body, headers) => webhook.verify(body, headers);
  }
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return (body, headers) => {
    const id = headers['webhook-id'];
    const timestamp = headers['webhook-timestamp'];
    const signatures = headers['webhook-signature'];
    if (!id || !timestamp || !signatures) throw new Error('missing required headers');
    const seconds = Number(timestamp);
    if (!Number.isSafeInteger(seconds) || Math.abs(Date.now() / 1000 - seconds) > WEBHOOK_LIMITS.timestampToleranceSeconds) throw new Error('timestamp out of tolerance');
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
    const match = signatures.split(' ').some((versioned) => {
      const [scheme, signature] = versioned.split(',');
      if (scheme !== 'v1' || signature === undefined) return false;
      const bytes = Buffer.from(signature, 'base64');
      return bytes.length === expected.length && timingSafeEqual(bytes, expected);
    });
    if (!match) throw new Error('no matching v1 signature');
    // What the library returns (and so what a receiver does next): the parsed payload.
    return JSON.parse(body) as unknown;
  };
}

export async function startBenchReceiver(options: ReceiverOptions): Promise<BenchReceiver> {
  let verify: Verify = () => {
    throw new Error('no keys yet');
  };
  let publicKey = '';
  let phase: PhaseRecord | undefined;
  let outside = 0;
  let seen = 0;
  const sockets = new Set<Socket>();

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const arrivedAt = performance.now();
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= RECEIVER_BODY_BYTES_MAX) chunks.push(chunk);
    });
    request.on('end', () => {
      const record = phase;
      if (record === undefined) outside += 1;
      else record.requests += 1;
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = request.headers as Record<string, string>;
      let refusal: string | undefined;
      try {
        if (size > RECEIVER_BODY_BYTES_MAX) throw new Error('body too large');
        verify(body, headers);
        seen += 1;
        if (options.v1aEvery > 0 && seen % options.v1aEvery === 0) {
          const valid = verifyAsymmetric(publicKey, headers, body);
          if (record !== undefined) {
            record.v1aChecked += 1;
            if (!valid) record.v1aFailed += 1;
          }
          if (!valid) throw new Error('v1a signature does not verify');
        }
      } catch (error) {
        refusal = (error as Error).message;
      }
      if (record !== undefined) {
        record.bodyBytes += size;
        if (refusal === undefined) {
          const id = headers['webhook-id']!;
          if (record.firstArrival.has(id)) record.duplicates += 1;
          else record.firstArrival.set(id, arrivedAt);
          if (!(arrivedAt >= record.firstAt)) record.firstAt = arrivedAt;
          if (!(arrivedAt <= record.lastAt)) record.lastAt = arrivedAt;
        } else {
          record.unverified += 1;
          if (record.unverifiedReasons.length < 5) record.unverifiedReasons.push(refusal);
        }
      }
      response.writeHead(refusal === undefined ? 200 : 401, { 'content-length': '0' });
      response.end();
    });
  };

  const server = createServer(handle);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    setKeys(secret, v1aPublicKey) {
      verify = verifierFor(options.verifier, secret);
      publicKey = v1aPublicKey;
    },
    begin(name) {
      phase = new PhaseRecord(name);
      return phase;
    },
    end() {
      phase = undefined;
    },
    outside: () => outside,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
