/**
 * The load generator's request supply: per bank, a queue of prepared requests that factory workers keep filled
 * about REFILL_AHEAD_MS ahead of the rate the bank's connections consume them, so autocannon's setupRequest (which
 * runs on this thread, synchronously, per request) only pops a request and never signs or renders anything.
 *
 * If a queue runs dry anyway the request is made here, synchronously, with the same code and keys: the run goes on,
 * but every such `fallback` is counted and reported — a non-zero count means the generator, not the server, set
 * the pace for a moment. Batches older than PROOF_USE_AGE_MAX_MS are dropped unused, so every proof sent is fresh.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

import type { JWK } from 'jose';

import { accessTokenHash, dpopSigner, type DpopSigner } from './dpop.ts';
import type { FromWorker, ToWorker, WorkerBank, WorkerInit } from './factory-protocol.ts';
import { BODY_KINDS, compileTemplate, type BodyKind, type MessageTemplate } from './messages.ts';
import { type MessagePlan, type PreparedBatch, produceBatch, type RequestSpec } from './request-factory.ts';

/** Queues hold about this much of the recent consumption rate. */
export const REFILL_AHEAD_MS = 1_000;
/** Bounds on a queue's target length, in requests. */
const QUEUE_TARGET_MIN = 64;
const QUEUE_TARGET_MAX = 8_192;
/** Bounds on one batch asked of a worker, in requests. */
const BATCH_MIN = 16;
const BATCH_MAX = 512;
/** A batch is not used after this age: the gateway accepts proofs up to 60 s old; we stay far inside. */
export const PROOF_USE_AGE_MAX_MS = 20_000;
/** Nor when its access token expires within this (the gateway allows 10 s of clock skew; we do not lean on it). */
export const TOKEN_EXPIRY_MARGIN_MS = 2_000;
/** Each re-estimate keeps at least this share of the previous target: queues shrink slowly after a burst. */
const QUEUE_TARGET_DECAY = 0.9;
/** Polling interval while waiting for a prefill. */
const PREFILL_POLL_MS = 10;
/** How often consumption rates are re-estimated. */
const RATE_WINDOW_MS = 250;
/** Waiting for every bank's first token at start, or for a prefill, gives up after this long. */
const SUPPLY_WAIT_TIMEOUT_MS = 60_000;

export interface SupplyBank {
  readonly index: number;
  readonly clientId: string;
  readonly bic: string;
  readonly signingKeyFile: string;
  readonly scope: string;
}

export interface SupplyOptions {
  readonly banks: readonly SupplyBank[];
  readonly workers: number;
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly caPem: string;
  readonly origin: string;
  readonly tenTxShare: number;
  readonly onwardShare: number;
  readonly creditorBics: readonly string[];
}

export interface NextRequest {
  readonly method: 'POST' | 'GET';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer | undefined;
}

export interface SupplyCounters {
  /** Requests made by the workers and handed out. */
  readonly served: number;
  /** Requests made on the main thread because a queue was empty. */
  readonly fallbacks: number;
  /** Prepared requests thrown away (outdated spec, or too old to send). */
  readonly discarded: number;
  readonly tokenProblems: readonly string[];
}

interface Lane {
  readonly bank: SupplyBank;
  readonly worker: Worker;
  readonly dpop: DpopSigner;
  token: { accessToken: string; authorization: string; ath: string; expiresAt: number } | undefined;
  spec: RequestSpec;
  generation: number;
  readonly cursor: { next: number };
  readonly batches: { batch: PreparedBatch; next: number }[];
  buffered: number;
  requested: number;
  taken: number;
  takenAtLastWindow: number;
  target: number;
}

export class RequestSupply {
  private readonly lanes: Lane[];
  private readonly workers: Worker[];
  private readonly plan: MessagePlan;
  private readonly host: string;
  private readonly rateTimer: NodeJS.Timeout;
  private served = 0;
  private fallbacks = 0;
  private discarded = 0;
  private readonly tokenProblems: string[] = [];
  private readonly tokenWaiters: (() => void)[] = [];

  private constructor(options: SupplyOptions, workers: Worker[], lanes: Lane[], plan: MessagePlan) {
    this.workers = workers;
    this.lanes = lanes;
    this.plan = plan;
    this.host = new URL(options.origin).host;
    this.rateTimer = setInterval(() => this.estimateRates(), RATE_WINDOW_MS);
    this.rateTimer.unref();
    for (const worker of workers) worker.on('message', (message: FromWorker) => this.onMessage(message));
  }

  static async start(options: SupplyOptions): Promise<RequestSupply> {
    const templateTexts = Object.fromEntries(
      BODY_KINDS.map((kind) => [kind, readFileSync(new URL(`../../test/fixtures/bench/pacs008-${kind}.xml`, import.meta.url), 'utf8')]),
    ) as Record<BodyKind, string>;
    const templates = Object.fromEntries(BODY_KINDS.map((kind) => [kind, compileTemplate(kind, templateTexts[kind])])) as Record<BodyKind, MessageTemplate>;
    const plan: MessagePlan = { origin: options.origin, templates, tenTxShare: options.tenTxShare, onwardShare: options.onwardShare, creditorBics: options.creditorBics };
    const workerCount = Math.max(1, Math.min(options.workers, options.banks.length));
    const workers = Array.from({ length: workerCount }, () => new Worker(new URL('./factory-worker.ts', import.meta.url)));
    const lanes: Lane[] = [];
    const perWorker: WorkerBank[][] = workers.map(() => []);
    for (const [i, bank] of options.banks.entries()) {
      // The DPoP key is made here so this thread can sign a fallback request with the very key the token is bound to.
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const dpopJwk = privateKey.export({ format: 'jwk' }) as JWK;
      const worker = workers[i % workerCount]!;
      perWorker[i % workerCount]!.push({
        index: bank.index,
        clientId: bank.clientId,
        bic: bank.bic,
        signingJwk: JSON.parse(readFileSync(bank.signingKeyFile, 'utf8')) as JWK,
        dpopJwk,
        scope: bank.scope,
      });
      lanes[bank.index] = {
        bank,
        worker,
        dpop: dpopSigner(dpopJwk),
        token: undefined,
        spec: { kind: 'intake' },
        generation: 0,
        cursor: { next: 0 },
        batches: [],
        buffered: 0,
        requested: 0,
        taken: 0,
        takenAtLastWindow: 0,
        target: QUEUE_TARGET_MIN,
      };
    }
    const supply = new RequestSupply(options, workers, lanes, plan);
    workers.forEach((worker, w) => {
      const init: WorkerInit = {
        type: 'init',
        banks: perWorker[w]!,
        issuer: options.issuer,
        tokenEndpoint: options.tokenEndpoint,
        caPem: options.caPem,
        origin: options.origin,
        templateTexts,
        tenTxShare: options.tenTxShare,
        onwardShare: options.onwardShare,
        creditorBics: options.creditorBics,
      };
      worker.postMessage(init satisfies ToWorker);
    });
    await supply.allTokens();
    return supply;
  }

  /** The bank's current access token (read phases and checks use it too). */
  accessToken(bank: number): string {
    const token = this.lane(bank).token;
    if (token === undefined) throw new Error(`bank ${bank}: no token`);
    return token.accessToken;
  }

  /** Switches a bank to another kind of request; whatever was prepared for the old one is dropped. */
  setSpec(bank: number, spec: RequestSpec): void {
    const lane = this.lane(bank);
    lane.generation += 1;
    lane.spec = spec;
    lane.cursor.next = 0;
    for (const { batch, next } of lane.batches) this.discarded += batch.count - next;
    lane.batches.length = 0;
    lane.buffered = 0;
    lane.requested = 0;
    lane.target = QUEUE_TARGET_MIN;
    lane.worker.postMessage({ type: 'spec', bank, generation: lane.generation, spec } satisfies ToWorker);
  }

  /** Fills the queues of `banks` with at least `count` requests each and waits until they are there. */
  async prefill(banks: readonly number[], count: number): Promise<void> {
    for (const bank of banks) {
      const lane = this.lane(bank);
      lane.target = Math.min(QUEUE_TARGET_MAX, Math.max(lane.target, count));
      this.refill(lane);
    }
    const deadline = Date.now() + SUPPLY_WAIT_TIMEOUT_MS;
    while (banks.some((bank) => this.lane(bank).buffered < Math.min(count, QUEUE_TARGET_MAX))) {
      if (Date.now() > deadline) throw new Error('request supply: prefill did not complete');
      await new Promise((resolve) => setTimeout(resolve, PREFILL_POLL_MS));
    }
  }

  /** The next request for `bank` (synchronous: autocannon's setupRequest calls it). */
  next(bank: number): NextRequest {
    const lane = this.lane(bank);
    lane.taken += 1;
    const now = Date.now();
    const stale = (batch: PreparedBatch): boolean => batch.createdAt < now - PROOF_USE_AGE_MAX_MS || batch.tokenExpiresAt < now + TOKEN_EXPIRY_MARGIN_MS;
    let head = lane.batches[0];
    while (head !== undefined && (head.next >= head.batch.count || stale(head.batch))) {
      const left = head.batch.count - head.next;
      this.discarded += left;
      lane.buffered -= left;
      lane.batches.shift();
      head = lane.batches[0];
    }
    let request: NextRequest;
    if (head === undefined) {
      this.fallbacks += 1;
      const batch = produceBatch(this.plan, bank, { bic: lane.bank.bic, dpop: lane.dpop, token: lane.token }, lane.spec, lane.generation, 1, lane.cursor);
      request = this.requestOf(batch, 0);
    } else {
      request = this.requestOf(head.batch, head.next);
      head.next += 1;
      lane.buffered -= 1;
      this.served += 1;
    }
    if (lane.buffered + lane.requested < lane.target / 2) this.refill(lane);
    return request;
  }

  counters(): SupplyCounters {
    return { served: this.served, fallbacks: this.fallbacks, discarded: this.discarded, tokenProblems: [...this.tokenProblems] };
  }

  /** Event-loop utilisation of every worker since it started (diff two readings for a window). */
  workerUtilisation(): ReturnType<typeof performance.eventLoopUtilization>[] {
    return this.workers.map((worker) => worker.performance.eventLoopUtilization());
  }

  async stop(): Promise<void> {
    clearInterval(this.rateTimer);
    for (const worker of this.workers) worker.postMessage({ type: 'stop' } satisfies ToWorker);
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private lane(bank: number): Lane {
    const lane = this.lanes[bank];
    if (lane === undefined) throw new Error(`no bank ${bank} in the request supply`);
    return lane;
  }

  private requestOf(batch: PreparedBatch, i: number): NextRequest {
    const start = i === 0 ? 0 : batch.bodyEnds[i - 1]!;
    const end = batch.bodyEnds[i]!;
    const headers: Record<string, string> = {
      host: this.host,
      authorization: batch.authorizations[i]!,
      dpop: batch.proofs[i]!,
    };
    if (batch.method === 'POST') {
      headers['content-type'] = 'application/xml';
      headers['idempotency-key'] = batch.idempotencyKeys[i]!;
    } else {
      headers.accept = 'application/json';
    }
    return { method: batch.method, path: batch.paths[i]!, headers, body: end > start ? Buffer.from(batch.bodies, start, end - start) : undefined };
  }

  private refill(lane: Lane): void {
    if (lane.token === undefined) return;
    const missing = lane.target - lane.buffered - lane.requested;
    if (missing <= 0) return;
    const count = Math.min(BATCH_MAX, Math.max(BATCH_MIN, missing));
    lane.requested += count;
    lane.worker.postMessage({ type: 'produce', bank: lane.bank.index, generation: lane.generation, count } satisfies ToWorker);
  }

  private estimateRates(): void {
    for (const lane of this.lanes) {
      if (lane === undefined) continue;
      const perWindow = lane.taken - lane.takenAtLastWindow;
      lane.takenAtLastWindow = lane.taken;
      const wanted = Math.ceil((perWindow * REFILL_AHEAD_MS) / RATE_WINDOW_MS);
      // Grow at once, shrink slowly: a brief lull must not leave the queue short when the load comes back.
      lane.target = Math.min(QUEUE_TARGET_MAX, Math.max(QUEUE_TARGET_MIN, wanted, Math.floor(lane.target * QUEUE_TARGET_DECAY)));
      if (lane.buffered + lane.requested < lane.target / 2) this.refill(lane);
    }
  }

  private onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'token': {
        const lane = this.lane(message.bank);
        lane.token = {
          accessToken: message.accessToken,
          authorization: `DPoP ${message.accessToken}`,
          ath: accessTokenHash(message.accessToken),
          expiresAt: message.expiresAt,
        };
        for (const wake of this.tokenWaiters.splice(0)) wake();
        return;
      }
      case 'batch': {
        const lane = this.lane(message.batch.bank);
        if (message.batch.generation !== lane.generation) {
          this.discarded += message.batch.count;
          return;
        }
        lane.requested = Math.max(0, lane.requested - message.batch.count);
        lane.batches.push({ batch: message.batch, next: 0 });
        lane.buffered += message.batch.count;
        return;
      }
      case 'problem':
        this.tokenProblems.push(`bank ${message.bank}: ${message.message}`);
        process.stderr.write(`  request supply: ${message.message}\n`);
        return;
    }
  }

  private async allTokens(): Promise<void> {
    const deadline = Date.now() + SUPPLY_WAIT_TIMEOUT_MS;
    while (this.lanes.some((lane) => lane !== undefined && lane.token === undefined)) {
      if (Date.now() > deadline) throw new Error(`request supply: no access token for every bank after ${SUPPLY_WAIT_TIMEOUT_MS} ms (${this.tokenProblems.join('; ')})`);
      await new Promise<void>((resolve) => {
        this.tokenWaiters.push(resolve);
        setTimeout(resolve, PREFILL_POLL_MS * 10);
      });
    }
  }
}
