/**
 * The handshake bench itself (run.ts is its command line): start the servers, get real credentials, then run every
 * scenario against every target in interleaved rounds and summarise.
 *
 * Processes. The client (this process) and the servers run in separate processes: `baseline` (bare node:https
 * with mTLS, plus a plain node:http listener), `authz` (the real authorization server) and `gateway` (the real
 * gateway). With everything in one process, server and client work would queue on one event loop, a GC in either
 * would stall both, and process.cpuUsage() could not say whose CPU time it was. Separate processes are what
 * production looks like, and each server's CPU time per request is read from its own process (over IPC, between
 * blocks, never inside a timed interval). The price: on a 2-core machine the client and the active server (and
 * Redis, for the gateway) share two cores; since every request is sequential, at most one side is busy at a time.
 *
 * Interleaving. Every round runs a block of each scenario on each of its targets, scenarios and targets in an
 * order that rotates every round, so a slow minute on the shared VM lands on all of them alike; the ratios and
 * differences between targets come from the same minutes. Warm-up rounds (same shape, not recorded) come first.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSecureContext } from 'node:tls';

import { createDevPki, type DevPkiFiles } from '../../src/certs/dev-pki.ts';
import { describeMachine, snapshot, stealPercent } from '../parse/machine.ts';
import { startServerProcess, type ServerProcess } from './children.ts';
import { getRequest, KeepAliveConnection, requestOnNewConnection, type ConnectionSample, type Response, type Target } from './client.ts';
import { obtainDpopCredentials, type DpopCredentials } from './credentials.ts';
import { PARTNER_SELF_BODY, type ChildSettings, type ReadyMessage } from './protocol.ts';
import { statsOf, type Stats } from './stats.ts';

export const SCENARIO_IDS = ['full', 'resumed', 'keepalive'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];
export const TARGET_IDS = ['plain', 'baseline', 'gateway-health', 'gateway'] as const;
export type TargetId = (typeof TARGET_IDS)[number];

/** A resumed scenario whose connections resumed less often than this reports no numbers at all. */
export const MIN_SESSION_REUSE_RATE = 0.99;
/** Keep-alive requests are ~10–30× cheaper than a handshake: this many per handshake, for similar time shares. */
export const KEEPALIVE_FACTOR = 5;
/** Samples per target per scenario in one round. */
const BLOCK: Record<ScenarioId, number> = { full: 10, resumed: 10, keepalive: 50 };

export const SCENARIOS: Record<ScenarioId, { readonly description: string; readonly targets: readonly TargetId[] }> = {
  full: {
    description:
      'full handshake: new TCP + TLS 1.3 connection with the client certificate, no session to resume, one request ' +
      '(Connection: close); connect() → last byte of the response',
    targets: ['plain', 'baseline', 'gateway-health', 'gateway'],
  },
  resumed: {
    description:
      'resumed handshake: new TCP connection resuming the TLS 1.3 session from the newest ticket the same server ' +
      'sent (isSessionReused() checked on every connection), one request; connect() → last byte of the response',
    targets: ['baseline', 'gateway-health', 'gateway'],
  },
  keepalive: {
    description: 'keep-alive request: sequential HTTP/1.1 requests on one established connection; write → last byte of the response',
    targets: ['plain', 'baseline', 'gateway-health', 'gateway'],
  },
};

export const TARGETS: Record<TargetId, string> = {
  plain: 'reference: node:http, no TLS at all, fixed body (the same bytes as the gateway answers)',
  baseline: 'bare node:https: TLS 1.3, requestCert + rejectUnauthorized against the dev CA, fixed body (same bytes)',
  'gateway-health': 'the gateway process, GET /health/live: the same TLS, Fastify and hooks, no authentication',
  gateway: 'the gateway, GET /partners/me: mTLS certificate check, DPoP access token, DPoP proof, jti replay check in Redis, partner lookup',
};

export interface HandshakeSettings {
  /** Timed connections per target in each handshake scenario; keep-alive gets KEEPALIVE_FACTOR × as many requests. */
  readonly iterations: number;
  /** Untimed ones before, per target per handshake scenario (× KEEPALIVE_FACTOR for keep-alive). */
  readonly warmup: number;
  readonly pkiDir: string;
  readonly redisUrl: string;
  /** The client's key-exchange groups (tls ecdhCurve, e.g. 'X25519'); undefined = Node's default offer. */
  readonly ecdhCurve?: string | undefined;
}

export interface TargetResult {
  readonly target: TargetId;
  readonly samples: number;
  /** The number that matters: connect() (or write) → last byte of the response. */
  readonly totalMs: Stats;
  /** Handshake scenarios: connect() → 'secureConnect' on the client (the server still verifies the client's Finished). */
  readonly handshakeMs?: Stats;
  /** Server process CPU (user + system) over the timed blocks ÷ samples; includes its part of connection teardown. */
  readonly serverCpuMsPerRequest: number;
  /** This (client) process's CPU over the timed blocks ÷ samples; proof signing is outside the blocks. */
  readonly clientCpuMsPerRequest: number;
  readonly sessionReuse?: { readonly resumed: number; readonly connections: number; readonly rate: number };
  readonly responseBytes: number;
  readonly protocol: string | null;
  readonly cipher: string | null;
  readonly group: string | null;
}

export interface ScenarioResult {
  readonly id: ScenarioId;
  readonly description: string;
  /** Set when the scenario's numbers are withheld (resumption did not happen); `targets` then carry no stats. */
  readonly refused?: string;
  readonly targets: readonly TargetResult[];
  readonly gatewayOverBaseline: { readonly p50: number; readonly p90: number; readonly p99: number; readonly mean: number } | null;
  /** Differences of the summaries (not a summary of differences): the cost of the gateway's stack per request. */
  readonly gatewayMinusBaselineMs: { readonly p50: number; readonly mean: number; readonly serverCpu: number } | null;
}

export interface HandshakeRecord {
  readonly bench: 'handshake';
  readonly date: string;
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly cpu: { readonly model: string; readonly cores: number };
  readonly loadAverage: { readonly start: number[]; readonly end: number[] };
  readonly stealPercent: number | null;
  readonly durationSeconds: number;
  readonly units: string;
  readonly settings: Record<string, unknown>;
  readonly targets: Record<TargetId, string>;
  readonly scenarios: readonly ScenarioResult[];
}

interface Collected {
  totals: number[];
  handshakes: number[];
  serverCpuMicros: number;
  clientCpuMicros: number;
  resumed: number;
  connections: number;
  responseBytes: number;
  protocol: string | null;
  cipher: string | null;
  group: string | null;
}

interface LiveTarget {
  readonly id: TargetId;
  readonly connection: Target;
  readonly path: string;
  readonly server: ServerProcess;
  readonly authority: string;
}

export type Progress = (done: number, total: number, phase: 'warm-up' | 'timing') => void;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

/** How many samples round `round` of `rounds` takes of `total`: evenly spread, summing to exactly `total`. */
function share(total: number, rounds: number, round: number): number {
  return Math.floor(((round + 1) * total) / rounds) - Math.floor((round * total) / rounds);
}

function expectOk(target: TargetId, response: Response): void {
  if (response.status !== 200) {
    throw new Error(`${target}: HTTP ${response.status}, not 200 — the measured path is not the intended one:\n${response.head}\n\n${response.body.toString('utf8')}`);
  }
}

export async function runHandshakeBench(settings: HandshakeSettings, progress: Progress = () => {}): Promise<HandshakeRecord> {
  const started = Date.now();
  const machine = describeMachine();
  const atStart = snapshot();
  const pki: DevPkiFiles = await createDevPki(settings.pkiDir);
  const alpha = pki.partners['bank-alpha'];
  if (alpha?.signingKey === undefined) throw new Error('the dev PKI has no bank-alpha with a signing key');
  const caPem = readFileSync(pki.caCert, 'utf8');

  const childSettings: ChildSettings = {
    pki,
    redisUrl: settings.redisUrl,
    redisKeyPrefix: `isogw-bench:handshake:${randomUUID()}:`,
    gatewayPort: await freePort(),
  };
  const servers: ServerProcess[] = [];
  try {
    const [baseline, authz] = await Promise.all([
      startServerProcess<Extract<ReadyMessage, { role: 'baseline' }>>('baseline', childSettings),
      startServerProcess<Extract<ReadyMessage, { role: 'authz' }>>('authz', childSettings),
    ]);
    servers.push(baseline, authz);
    const gateway = await startServerProcess<Extract<ReadyMessage, { role: 'gateway' }>>('gateway', { ...childSettings, issuer: authz.ready.issuer });
    servers.push(gateway);

    const credentials = await obtainDpopCredentials({
      issuer: authz.ready.issuer,
      tokenEndpoint: authz.ready.tokenEndpoint,
      caPem,
      signingKeyFile: alpha.signingKey,
    });
    // One client context for every TLS connection: the dev CA, bank-alpha's certificate and key.
    const secureContext = createSecureContext({
      ca: caPem,
      cert: readFileSync(alpha.clientCert, 'utf8'),
      key: readFileSync(alpha.clientKey, 'utf8'),
      minVersion: 'TLSv1.3',
      ...(settings.ecdhCurve === undefined ? {} : { ecdhCurve: settings.ecdhCurve }),
    });
    const tlsTo = (port: number): Target => ({ host: '127.0.0.1', port, servername: 'localhost', secureContext });
    const gatewayPort = gateway.ready.port;
    const live: Record<TargetId, LiveTarget> = {
      plain: {
        id: 'plain',
        connection: { host: '127.0.0.1', port: baseline.ready.plainPort, servername: 'localhost', secureContext: null },
        path: '/partners/me',
        server: baseline,
        authority: `localhost:${baseline.ready.plainPort}`,
      },
      baseline: { id: 'baseline', connection: tlsTo(baseline.ready.httpsPort), path: '/partners/me', server: baseline, authority: `localhost:${baseline.ready.httpsPort}` },
      'gateway-health': { id: 'gateway-health', connection: tlsTo(gatewayPort), path: '/health/live', server: gateway, authority: `localhost:${gatewayPort}` },
      gateway: { id: 'gateway', connection: tlsTo(gatewayPort), path: '/partners/me', server: gateway, authority: `localhost:${gatewayPort}` },
    };

    const runner = new Runner(credentials, (await credentials.proofs(1, 'GET', 'https://localhost/filler'))[0] ?? '');
    await runner.preflight(live);

    const iterations: Record<ScenarioId, number> = { full: settings.iterations, resumed: settings.iterations, keepalive: settings.iterations * KEEPALIVE_FACTOR };
    const warmups: Record<ScenarioId, number> = { full: settings.warmup, resumed: settings.warmup, keepalive: settings.warmup * KEEPALIVE_FACTOR };
    const roundsFor = (counts: Record<ScenarioId, number>): number => Math.max(1, ...SCENARIO_IDS.map((s) => Math.ceil(counts[s] / BLOCK[s])));
    const warmupRounds = settings.warmup > 0 ? roundsFor(warmups) : 0;
    const timedRounds = roundsFor(iterations);
    const totalRounds = warmupRounds + timedRounds;

    for (let round = 0; round < totalRounds; round++) {
      const timed = round >= warmupRounds;
      const index = timed ? round - warmupRounds : round;
      for (let k = 0; k < SCENARIO_IDS.length; k++) {
        const scenario = SCENARIO_IDS[(round + k) % SCENARIO_IDS.length]!;
        const targets = SCENARIOS[scenario].targets;
        const count = share(timed ? iterations[scenario] : warmups[scenario], timed ? timedRounds : warmupRounds, index);
        if (count === 0) continue;
        for (let t = 0; t < targets.length; t++) {
          const target = live[targets[(round + t) % targets.length]!];
          await runner.block(scenario, target, count, timed);
        }
      }
      progress(round + 1, totalRounds, timed ? 'timing' : 'warm-up');
    }

    const atEnd = snapshot();
    const scenarios = SCENARIO_IDS.map((id) => runner.result(id));
    return {
      bench: 'handshake',
      date: new Date(started).toISOString(),
      ...machine,
      loadAverage: { start: atStart.load, end: atEnd.load },
      stealPercent: stealPercent(atStart, atEnd),
      durationSeconds: (Date.now() - started) / 1000,
      units: 'milliseconds, client-seen, nearest-rank percentiles of individually timed requests (process.hrtime.bigint)',
      settings: {
        iterations: Object.fromEntries(SCENARIO_IDS.map((s) => [s, iterations[s]])),
        warmup: Object.fromEntries(SCENARIO_IDS.map((s) => [s, warmups[s]])),
        rounds: { warmup: warmupRounds, timed: timedRounds },
        blockPerRound: BLOCK,
        interleaving: 'every round: a block of each scenario on each of its targets, scenarios and targets in an order rotating every round',
        minSessionReuseRate: MIN_SESSION_REUSE_RATE,
        clientGroups: settings.ecdhCurve ?? `Node's default offer (OpenSSL ${process.versions.openssl})`,
        pki: 'the dev PKI (src/certs/dev-pki.ts): ECDSA P-256 CA, server and client certificates; client certificate of bank-alpha',
        client: 'node:tls / node:net + a minimal HTTP/1.1 writer and reader, one shared client SecureContext, no agent',
        processes: {
          client: 'the bench process',
          baseline: `child process (pid ${baseline.pid}): node:https mTLS + node:http plain`,
          authz: `child process (pid ${authz.pid}): the authorization server, idle while timing`,
          gateway: `child process (pid ${gateway.pid}): startGateway, Redis at ${settings.redisUrl}`,
        },
        dpop: 'one access token from the AS (client_credentials, private_key_jwt, DPoP-bound, ES256); a fresh ES256 DPoP proof per gateway request, signed before its block (never inside a timed interval)',
        request: 'every target gets the same request headers (Host, Authorization: DPoP <token>, DPoP: <proof>, Accept, Connection); only the gateway reads them',
      },
      targets: TARGETS,
      scenarios,
    };
  } finally {
    await Promise.all(servers.map((server) => server.close()));
  }
}

class Runner {
  private readonly collected = new Map<string, Collected>();
  /** Per target: the newest session ticket, for the resumed scenario. */
  private readonly sessions = new Map<TargetId, Buffer>();

  private readonly credentials: DpopCredentials;
  /** A real-looking proof for the targets that ignore it, so every target receives a request of the same size. */
  private readonly fillerProof: string;

  constructor(credentials: DpopCredentials, fillerProof: string) {
    this.credentials = credentials;
    this.fillerProof = fillerProof;
  }

  private slot(scenario: ScenarioId, target: TargetId): Collected {
    const key = `${scenario} ${target}`;
    let slot = this.collected.get(key);
    if (slot === undefined) {
      slot = { totals: [], handshakes: [], serverCpuMicros: 0, clientCpuMicros: 0, resumed: 0, connections: 0, responseBytes: 0, protocol: null, cipher: null, group: null };
      this.collected.set(key, slot);
    }
    return slot;
  }

  /** `count` requests for `target`, each with its own fresh proof for the gateway; signed here, before any timing. */
  private async requests(target: LiveTarget, count: number, close: boolean): Promise<Buffer[]> {
    const proofs =
      target.id === 'gateway'
        ? await this.credentials.proofs(count, 'GET', `https://${target.authority}${target.path}`)
        : new Array<string>(count).fill(this.fillerProof);
    return proofs.map((dpop) => getRequest({ path: target.path, host: target.authority, authorization: this.credentials.authorization, dpop, close }));
  }

  /** One request per target and connection kind, checked in full before anything is timed. */
  async preflight(live: Record<TargetId, LiveTarget>): Promise<void> {
    for (const target of Object.values(live)) {
      const [request] = await this.requests(target, 1, true);
      const sample = await requestOnNewConnection(target.connection, request!);
      expectOk(target.id, sample.response);
      if (target.connection.secureContext !== null && sample.protocol !== 'TLSv1.3') throw new Error(`${target.id}: negotiated ${sample.protocol}, not TLSv1.3`);
      if (target.path === '/partners/me') {
        const body = sample.response.body.toString('utf8');
        if (body !== PARTNER_SELF_BODY) throw new Error(`${target.id}: unexpected body ${body} (expected ${PARTNER_SELF_BODY})`);
      }
    }
  }

  async block(scenario: ScenarioId, target: LiveTarget, count: number, timed: boolean): Promise<void> {
    const slot = this.slot(scenario, target.id);
    const keepAlive = scenario === 'keepalive';
    // Everything that is not the measured exchange happens here, before the CPU snapshot: proof signing, and for
    // keep-alive the connection itself plus one untimed request on it.
    const requests = await this.requests(target, keepAlive ? count + 1 : count, !keepAlive);
    const connection = keepAlive ? await KeepAliveConnection.open(target.connection) : undefined;
    if (connection !== undefined) expectOk(target.id, (await connection.request(requests.shift()!)).response);

    const serverBefore = timed ? await target.server.cpuMicros() : 0;
    const clientBefore = process.cpuUsage();
    for (const request of requests) {
      if (connection !== undefined) {
        const { ms, response } = await connection.request(request);
        expectOk(target.id, response);
        if (timed) {
          slot.totals.push(ms);
          slot.responseBytes = response.bytes;
        }
        continue;
      }
      const previous = scenario === 'resumed' ? this.sessions.get(target.id) : undefined;
      const sample: ConnectionSample = await requestOnNewConnection(target.connection, request, previous);
      expectOk(target.id, sample.response);
      if (scenario === 'resumed' && sample.session !== undefined) this.sessions.set(target.id, sample.session);
      if (scenario === 'full' && sample.sessionReused) throw new Error(`${target.id}: a full-handshake connection was resumed`);
      if (!timed) continue;
      slot.connections += 1;
      slot.responseBytes = sample.response.bytes;
      slot.protocol = sample.protocol;
      slot.cipher = sample.cipher;
      slot.group = sample.group;
      if (sample.sessionReused) slot.resumed += 1;
      // A resumed-scenario connection that did a full handshake is counted (reuse rate), not mixed into the numbers.
      if (scenario === 'resumed' && !sample.sessionReused) continue;
      slot.totals.push(sample.totalMs);
      slot.handshakes.push(sample.handshakeMs);
    }
    const clientUsage = process.cpuUsage(clientBefore);
    if (timed) {
      slot.serverCpuMicros += (await target.server.cpuMicros()) - serverBefore;
      slot.clientCpuMicros += clientUsage.user + clientUsage.system;
    }
    await connection?.close();
  }

  result(scenario: ScenarioId): ScenarioResult {
    const { description, targets } = SCENARIOS[scenario];
    const refusals: string[] = [];
    const results = targets.map((target): TargetResult => {
      const slot = this.slot(scenario, target);
      const requests = scenario === 'keepalive' ? slot.totals.length : slot.connections;
      const rate = slot.connections === 0 ? 0 : slot.resumed / slot.connections;
      if (scenario === 'resumed' && rate < MIN_SESSION_REUSE_RATE) {
        refusals.push(`${target}: ${slot.resumed} of ${slot.connections} connections resumed (${(rate * 100).toFixed(1)} % < ${MIN_SESSION_REUSE_RATE * 100} %)`);
      }
      return {
        target,
        samples: slot.totals.length,
        totalMs: statsOf(slot.totals),
        ...(scenario === 'keepalive' ? {} : { handshakeMs: statsOf(slot.handshakes) }),
        serverCpuMsPerRequest: slot.serverCpuMicros / 1000 / requests,
        clientCpuMsPerRequest: slot.clientCpuMicros / 1000 / requests,
        ...(scenario === 'keepalive' ? {} : { sessionReuse: { resumed: slot.resumed, connections: slot.connections, rate } }),
        responseBytes: slot.responseBytes,
        protocol: slot.protocol,
        cipher: slot.cipher,
        group: slot.group,
      };
    });
    if (refusals.length > 0) {
      return {
        id: scenario,
        description,
        refused: `TLS session resumption did not happen: ${refusals.join('; ')}`,
        targets: results.map(({ target, sessionReuse }) => ({ target, sessionReuse }) as TargetResult),
        gatewayOverBaseline: null,
        gatewayMinusBaselineMs: null,
      };
    }
    const baseline = results.find((r) => r.target === 'baseline');
    const gateway = results.find((r) => r.target === 'gateway');
    const both = baseline !== undefined && gateway !== undefined;
    return {
      id: scenario,
      description,
      targets: results,
      gatewayOverBaseline: both
        ? {
            p50: gateway.totalMs.p50 / baseline.totalMs.p50,
            p90: gateway.totalMs.p90 / baseline.totalMs.p90,
            p99: gateway.totalMs.p99 / baseline.totalMs.p99,
            mean: gateway.totalMs.mean / baseline.totalMs.mean,
          }
        : null,
      gatewayMinusBaselineMs: both
        ? {
            p50: gateway.totalMs.p50 - baseline.totalMs.p50,
            mean: gateway.totalMs.mean - baseline.totalMs.mean,
            serverCpu: gateway.serverCpuMsPerRequest - baseline.serverCpuMsPerRequest,
          }
        : null,
    };
  }
}
