/**
 * The HTTP floor's sender, a child process like the relays: the same delivery bodies POSTed with undici straight to
 * the same receiver, over as many connections and with as many payments in progress as a relay has — but no
 * database and no signing on the way (every request is signed before the clock starts, with the endpoint's real
 * keys, so the receiver verifies exactly as it does for the relay). A payment's events go in sequence order, the next
 * once the previous was answered 2xx, as the relay orders them. What is left is the floor: what delivering these
 * bytes costs when the outbox, the claims and the signing cost nothing.
 *
 * Protocol (floor-protocol.ts): job → prepared; clock pings (the parent aligns our clock with its own); go → done.
 */
import { readFileSync } from 'node:fs';

import { Agent, request } from 'undici';

import { WEBHOOK_USER_AGENT } from '../../src/webhooks/sender.ts';
import { type SigningKey, webhookHeaders } from '../../src/webhooks/signing.ts';
import { type ChildMessage, type FloorJob, floorWebhookId, type ParentMessage } from './floor-protocol.ts';

interface PreparedRequest {
  readonly headers: Record<string, string>;
  readonly body: string;
}

const clock = (): number => performance.timeOrigin + performance.now();
const send = (message: ChildMessage): void => void process.send!(message);

let job: FloorJob | undefined;
let prepared: PreparedRequest[][] = [];

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'job':
      job = JSON.parse(readFileSync(message.file, 'utf8')) as FloorJob;
      prepared = prepare(job);
      send({ type: 'prepared', requests: prepared.reduce((n, p) => n + p.length, 0) });
      return;
    case 'clock':
      send({ type: 'clock', id: message.id, nowMs: clock() });
      return;
    case 'go':
      void run(job!, prepared).then((done) => {
        send(done);
        process.disconnect();
      });
      return;
  }
});

function prepare(work: FloorJob): PreparedRequest[][] {
  const keys: SigningKey[] = work.keys.map((key) => ({
    scheme: key.scheme,
    secret: Buffer.from(key.secret, 'base64'),
    ...(key.publicKey === undefined ? {} : { publicKey: Buffer.from(key.publicKey, 'base64') }),
  }));
  const timestamp = Math.floor(Date.now() / 1000);
  const payments: PreparedRequest[][] = [];
  for (let k = 0; k < work.payments; k++) {
    const bodies = work.bodies[k % work.bodies.length]!;
    payments.push(
      bodies.map((body, index) => {
        const id = floorWebhookId(work.idTag, k, index + 1);
        return { headers: { ...webhookHeaders(keys, id, timestamp, body), 'user-agent': WEBHOOK_USER_AGENT }, body };
      }),
    );
  }
  return payments;
}

async function run(work: FloorJob, payments: PreparedRequest[][]): Promise<ChildMessage> {
  const agent = new Agent({ connections: work.connections });
  const statuses: Record<string, number> = {};
  let firstError: string | undefined;
  let sent = 0;

  const deliver = async (payment: PreparedRequest[]): Promise<void> => {
    for (const event of payment) {
      sent += 1;
      let status: string;
      try {
        const response = await request(work.url, { dispatcher: agent, method: 'POST', headers: event.headers, body: event.body });
        await response.body.dump();
        status = String(response.statusCode);
      } catch (error) {
        status = 'error';
        firstError ??= (error as Error).message;
      }
      statuses[status] = (statuses[status] ?? 0) + 1;
      // The relay holds a payment's next event until this one is delivered; the floor gives up on the payment instead.
      if (!status.startsWith('2')) return;
    }
  };

  const startedAtMs = clock();
  let lateStarts = 0;
  let next = 0;
  let active = 0;
  let wake: (() => void) | undefined;
  const intervalMs = work.mode === 'rate' ? 1000 / work.ratePerSecond! : 0;
  while (next < payments.length) {
    const now = clock();
    const dueAt = startedAtMs + next * intervalMs;
    if (dueAt > now) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, dueAt - now);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      continue;
    }
    if (active >= work.concurrency) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      continue;
    }
    if (work.mode === 'rate' && now - dueAt > intervalMs) lateStarts += 1;
    active += 1;
    void deliver(payments[next]!).finally(() => {
      active -= 1;
      wake?.();
    });
    next += 1;
  }
  while (active > 0) {
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
  const finishedAtMs = clock();
  await agent.close();
  return { type: 'done', startedAtMs, finishedAtMs, sent, statuses, lateStarts, ...(firstError === undefined ? {} : { firstError }) };
}
