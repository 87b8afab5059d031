/**
 * The partner bank's side of `npm run demo` (issue 7 §1), written as an integration team would write it, with no
 * code of ours on the partner's side of the wire: jose for the client assertion and the DPoP proofs, undici over
 * mutual TLS (demo-session.ts), a receiver of its own for the webhooks (demo-receiver.ts). Given a running authorization server and
 * gateway — embedded or on real PostgreSQL and Redis, it cannot tell — bank-alpha:
 *
 *   1. obtains a DPoP-bound token by private_key_jwt (RFC 9449, RFC 7523), and reads its balance (GET /accounts);
 *   2. registers its webhook endpoint at its receiver (POST /webhooks/endpoints), keeping the signing keys — or,
 *      on a database that remembers an earlier run, points its demo endpoint at the new receiver with fresh keys
 *      (a partner has at most 10 endpoints, and the demo must run any number of times);
 *   3. posts pacs.008s: one that settles on-us at bank-gamma (ACSC); one whose CtrlSum does not add up (RJCT AM10,
 *      with its element path); one for more than it holds (RJCT AM04, from the ledger); the first one retried with
 *      its Idempotency-Key (the stored answer, byte for byte); the first one again under a new key (RJCT DUPL);
 *   4. waits for the signed webhooks of the two booked payments (RCVD, then ACSC or RJCT), verified and in order;
 *   5. reads the balances again — its own, and bank-gamma's as bank-gamma — and disables its endpoint.
 * Every step is checked against what should happen; the report lists anything that did not (the demo's exit code).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import type { DevPkiFiles } from '../certs/dev-pki.ts';
import {
  decimalsOf,
  freshCopy,
  minorOf,
  type Pacs002Summary,
  plusOneMinorUnit,
  readPacs002,
  reasonText,
  signed,
  statusText,
  withAmount,
  withControlSum,
} from './demo-messages.ts';
import { type DemoReceiver, type ReceivedWebhook, startDemoReceiver } from './demo-receiver.ts';
import { openSession, type Session } from './demo-session.ts';

export const STORY_LIMITS = Object.freeze({
  /** How long to wait for the webhooks (the embedded relay polls once a second). */
  webhooksWaitMs: 20_000,
  /** Between looks at what has arrived. */
  webhooksPollMs: 100,
});

/** How the demo's endpoint is recognised on a database that has seen an earlier run. */
export const DEMO_ENDPOINT_DESCRIPTION = 'isogw demo receiver';

export interface PartnerStoryOptions {
  readonly issuer: string;
  readonly gatewayOrigin: string;
  readonly pki: DevPkiFiles;
  /** A DPoP partner with payments:write (bank-alpha). */
  readonly payer: string;
  /** A participant the template pays, with a token of its own to read its balance (bank-gamma). */
  readonly payee: string;
  /** A one-transaction pacs.008 from the payer to the payee (examples/1-accepted--cbpr-envelope.xml). */
  readonly template: string;
  readonly out: (line: string) => void;
}

export interface StoryPost extends Pacs002Summary {
  readonly number: number;
  readonly title: string;
  readonly uetr: string;
  readonly status: number;
  /** Idempotent-Replayed: true, and whether the body was the first answer's byte for byte. */
  readonly replayed: boolean;
  readonly sameAnswer: boolean;
  readonly expected: string;
  readonly ok: boolean;
}

export interface StoryWebhook extends ReceivedWebhook {
  /** The post (StoryPost.number) of the payment it is about. */
  readonly payment: number;
  readonly ok: boolean;
}

export interface StoryBalance {
  readonly clientId: string;
  readonly bic: string;
  readonly currency: string;
  readonly before: string;
  readonly after: string;
  readonly change: string;
  readonly ok: boolean;
}

export interface PartnerStoryReport {
  readonly token: Session['token'];
  readonly endpoint: { readonly id: string; readonly url: string; readonly reused: boolean };
  readonly posts: readonly StoryPost[];
  readonly webhooks: readonly StoryWebhook[];
  readonly balances: readonly StoryBalance[];
  /** What did not happen as expected; empty when the story went as told. */
  readonly problems: readonly string[];
}

export async function playPartnerStory(options: PartnerStoryOptions): Promise<PartnerStoryReport> {
  const { out } = options;
  const problems: string[] = [];
  const receiver = await startDemoReceiver();
  const sessions: Session[] = [];
  let endpointId: string | undefined;
  try {
    const payer = await openSession(options, options.payer, 'payments:write payments:read');
    sessions.push(payer);
    const payee = await openSession(options, options.payee, 'payments:read');
    sessions.push(payee);
    out(`   ${options.payer}: ${payer.token.type} access token, ${payer.token.expiresInSeconds} s, bound to its DPoP key ${payer.token.dpopKeyThumbprint.slice(0, 16)}…`);
    const before = [await payer.settlementAccount(), await payee.settlementAccount()];

    const endpoint = await registerEndpoint(payer, receiver);
    endpointId = endpoint.id;
    out(`   ${options.payer}: webhook endpoint ${endpoint.id} → ${endpoint.url}${endpoint.reused ? ' (kept from an earlier run, fresh signing keys)' : ''}`);
    out('');

    // 3. The payments.
    const amount = /<IntrBkSttlmAmt Ccy="([A-Z]{3})">([^<]+)</.exec(options.template);
    if (amount === null) throw new TypeError('the template has no IntrBkSttlmAmt');
    const currency = amount[1]!;
    const value = amount[2]!;
    const payerBefore = before[0]!;
    const posts: StoryPost[] = [];
    out(`   ${'#'.padEnd(3)}${'request'.padEnd(50)}${'HTTP'.padEnd(6)}${'pacs.002 (group/tx)'.padEnd(21)}reason`);
    /** Posts one message and checks the answer; returns the answer's bytes (a retry must get them again). */
    const post = async (title: string, xml: string, key: string, expected: Expected): Promise<string> => {
      const answer = await payer.call('POST', '/iso20022/pacs.008', xml, { 'content-type': 'application/xml', 'idempotency-key': key });
      const summary = readPacs002(answer.body);
      const replayed = answer.headers.get('idempotent-replayed') === 'true';
      const sameAnswer = expected.sameAnswerAs !== undefined && answer.body === expected.sameAnswerAs;
      const report: StoryPost = {
        number: posts.length + 1,
        title,
        uetr: /<UETR>([^<]+)<\/UETR>/.exec(xml)?.[1] ?? '',
        status: answer.status,
        replayed,
        sameAnswer,
        ...summary,
        expected: describe(expected),
        ok: matches(expected, answer.status, summary, replayed, sameAnswer),
      };
      posts.push(report);
      if (!report.ok) problems.push(`request #${report.number} (${title}): expected ${report.expected}; got HTTP ${answer.status} ${statusText(summary)} ${reasonText(summary)}`);
      const note = replayed ? `Idempotent-Replayed${sameAnswer ? ': the first answer, byte for byte' : ''}` : reasonText(summary);
      out(`${mark(report.ok)}${String(report.number).padEnd(3)}${title.padEnd(50)}${String(answer.status).padEnd(6)}${statusText(summary).padEnd(21)}${note}`);
      return answer.body;
    };
    const settles = freshCopy(options.template);
    const settlesKey = randomUUID();
    const firstAnswer = await post(`pays ${options.payee} ${value} ${currency} (on-us)`, settles, settlesKey, { status: 200, group: 'ACSC', tx: 'ACSC' });
    await post('sends a CtrlSum that does not add up', withControlSum(freshCopy(options.template), plusOneMinorUnit(value)), randomUUID(), {
      status: 422,
      group: 'RJCT',
      reason: 'AM10',
      path: '/Document/FIToFICstmrCdtTrf/GrpHdr/CtrlSum',
    });
    await post(`pays ${payerBefore.balance} ${currency}, more than it has left`, withAmount(freshCopy(options.template), payerBefore.balance), randomUUID(), {
      status: 422,
      group: 'RJCT',
      tx: 'RJCT',
      reason: 'AM04',
    });
    await post('retries #1 with the same Idempotency-Key', settles, settlesKey, { status: 200, group: 'ACSC', tx: 'ACSC', sameAnswerAs: firstAnswer });
    await post('sends #1 again under a new Idempotency-Key', settles, randomUUID(), { status: 409, group: 'RJCT', reason: 'DUPL' });
    out('');

    // 4. The webhooks: RCVD and the decisive status of each payment the ledger booked (#1 settled, #3 rejected).
    const wanted = new Map<string, { payment: number; statuses: string[] }>([
      [posts[0]!.uetr, { payment: 1, statuses: ['RCVD', 'ACSC'] }],
      [posts[2]!.uetr, { payment: 3, statuses: ['RCVD', 'RJCT'] }],
    ]);
    const ours = () => receiver.received().filter((webhook) => wanted.has(webhook.uetr) && webhook.answered === 204);
    const complete = () => [...wanted].every(([uetr, { statuses }]) => statuses.every((status) => ours().some((w) => w.uetr === uetr && w.status === status)));
    const deadline = Date.now() + STORY_LIMITS.webhooksWaitMs;
    while (!complete() && Date.now() < deadline) await sleep(STORY_LIMITS.webhooksPollMs);
    const webhooks = checkWebhooks(ours(), wanted, problems);
    const others = receiver.received().length - ours().length;
    out(`   webhooks received at ${receiver.url} (signatures: v1 HMAC with standardwebhooks, v1a Ed25519)`);
    out(`   ${'#'.padEnd(3)}${'type'.padEnd(30)}${'uetr'.padEnd(38)}${'seq'.padEnd(5)}${'status'.padEnd(8)}${'reason'.padEnd(8)}signatures`);
    for (const webhook of webhooks) {
      out(`${mark(webhook.ok)}${String(webhook.payment).padEnd(3)}${webhook.type.padEnd(30)}${webhook.uetr.padEnd(38)}${String(webhook.sequence).padEnd(5)}${webhook.status.padEnd(8)}${(webhook.reason ?? '').padEnd(8)}v1 ${tick(webhook.v1)}  v1a ${tick(webhook.v1a)}`);
    }
    if (others > 0) out(`   (${others} other request${others === 1 ? '' : 's'}: earlier payments' events or retries, not part of this story)`);
    out('');

    // 5. Balances, as each partner sees its own.
    const after = [await payer.settlementAccount(), await payee.settlementAccount()];
    const moved = minorOf(value, decimalsOf(payerBefore.balance));
    const balances = before.map((account, index): StoryBalance => {
      const later = after[index]!;
      const change = minorOf(later.balance, decimalsOf(later.balance)) - minorOf(account.balance, decimalsOf(account.balance));
      const expected = index === 0 ? -moved : moved;
      const ok = change === expected && later.currency === currency;
      if (!ok) problems.push(`${account.clientId}'s balance changed by ${change} minor units, expected ${expected}`);
      return { clientId: account.clientId, bic: account.bic, currency: account.currency, before: account.balance, after: later.balance, change: signed(change, decimalsOf(later.balance)), ok };
    });
    out('   balances (GET /accounts, each partner its own)');
    for (const balance of balances) {
      out(`${mark(balance.ok)}${balance.clientId.padEnd(12)}${balance.bic.padEnd(13)}${balance.currency} settlement ${balance.before.padStart(14)} → ${balance.after.padStart(14)}   ${balance.change}`);
    }
    return { token: payer.token, endpoint, posts, webhooks, balances, problems };
  } finally {
    // The partner tidies up: its receiver goes away, so its endpoint is disabled (events for it wait, never lost).
    const [payer] = sessions;
    if (endpointId !== undefined) await payer?.call('PATCH', `/webhooks/endpoints/${endpointId}`, JSON.stringify({ enabled: false }), { 'content-type': 'application/json' }).catch(() => {});
    await receiver.close();
    for (const session of sessions) await session.close();
  }
}

interface Expected {
  readonly status: number;
  readonly group: string;
  readonly tx?: string;
  readonly reason?: string;
  readonly path?: string;
  /** The first answer's bytes, which a retry with the same key must get again. */
  readonly sameAnswerAs?: string;
}

function matches(expected: Expected, status: number, summary: Pacs002Summary, replayed: boolean, sameAnswer: boolean): boolean {
  if (status !== expected.status || summary.groupStatus !== expected.group) return false;
  if (expected.tx !== undefined && !summary.transactionStatuses.every((tx) => tx === expected.tx)) return false;
  if (expected.reason !== undefined && !summary.reasons.some((r) => r.code === expected.reason && (expected.path === undefined || r.path === expected.path))) return false;
  if (expected.sameAnswerAs !== undefined) return replayed && sameAnswer;
  return !replayed;
}

function describe(expected: Expected): string {
  const parts = [`HTTP ${expected.status}`, `group ${expected.group}`];
  if (expected.tx !== undefined) parts.push(`tx ${expected.tx}`);
  if (expected.reason !== undefined) parts.push(`reason ${expected.reason}${expected.path === undefined ? '' : ` at ${expected.path}`}`);
  if (expected.sameAnswerAs !== undefined) parts.push('the first answer replayed');
  return parts.join(', ');
}

/** Each wanted payment's webhooks, once per webhook-id, in arrival order: its statuses in sequence, all verified. */
function checkWebhooks(received: readonly ReceivedWebhook[], wanted: ReadonlyMap<string, { payment: number; statuses: string[] }>, problems: string[]): StoryWebhook[] {
  const seen = new Set<string>();
  const unique = received.filter((w) => !seen.has(w.webhookId) && seen.add(w.webhookId));
  const result: StoryWebhook[] = [];
  for (const [uetr, { payment, statuses }] of wanted) {
    const mine = unique.filter((w) => w.uetr === uetr);
    const got = mine.map((w) => w.status);
    const inOrder = mine.every((w, index) => w.sequence === index + 1);
    if (got.join(',') !== statuses.join(',') || !inOrder) problems.push(`payment #${payment}: webhooks ${got.join(', ') || 'none'}, expected ${statuses.join(', ')} in sequence`);
    for (const [index, w] of mine.entries()) result.push({ ...w, payment, ok: w.v1 && w.v1a && w.status === statuses[index] && w.sequence === index + 1 });
  }
  return result.sort((a, b) => a.payment - b.payment || a.sequence - b.sequence);
}

/** The demo endpoint: created, or (kept from an earlier run on this database) given fresh keys, the new URL and enabled. */
async function registerEndpoint(session: Session, receiver: DemoReceiver): Promise<PartnerStoryReport['endpoint']> {
  const json = { 'content-type': 'application/json' };
  const listed = await session.call('GET', '/webhooks/endpoints');
  if (listed.status !== 200) throw new Error(`GET /webhooks/endpoints answered HTTP ${listed.status} ${listed.body}`);
  const earlier = (JSON.parse(listed.body) as { endpoints: { id: string; description: string | null }[] }).endpoints.find((e) => e.description === DEMO_ENDPOINT_DESCRIPTION);
  if (earlier === undefined) {
    const created = await session.call('POST', '/webhooks/endpoints', JSON.stringify({ url: receiver.url, description: DEMO_ENDPOINT_DESCRIPTION }), json);
    if (created.status !== 201) throw new Error(`the webhook endpoint was refused: HTTP ${created.status} ${created.body}`);
    const { endpoint, signing } = JSON.parse(created.body) as { endpoint: { id: string }; signing: { secret: string; publicKey: string } };
    receiver.trust(signing);
    return { id: endpoint.id, url: receiver.url, reused: false };
  }
  // Keys first: whatever the endpoint sends once enabled is signed with keys the receiver knows.
  const rotated = await session.call('POST', `/webhooks/endpoints/${earlier.id}/rotate-secret`, JSON.stringify({ overlapSeconds: 0 }), json);
  if (rotated.status !== 200) throw new Error(`the endpoint's keys could not be rotated: HTTP ${rotated.status} ${rotated.body}`);
  receiver.trust((JSON.parse(rotated.body) as { signing: { secret: string; publicKey: string } }).signing);
  const patched = await session.call('PATCH', `/webhooks/endpoints/${earlier.id}`, JSON.stringify({ url: receiver.url, enabled: true }), json);
  if (patched.status !== 200) throw new Error(`the endpoint could not be pointed at the receiver: HTTP ${patched.status} ${patched.body}`);
  return { id: earlier.id, url: receiver.url, reused: true };
}

const mark = (ok: boolean): string => (ok ? ' ✓ ' : ' ✗ ');
const tick = (ok: boolean): string => (ok ? '✓' : '✗');
