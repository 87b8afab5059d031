/**
 * Everything the e2e phases run against, started in order and closed in reverse: the bench PKI, a fresh funded
 * database, the authorization server and the gateway in child processes (the gateway configured from ISOGW_*
 * variables, as production starts it), the gateway's /proc sampler, the request supply with a real token per bank,
 * one client TLS context per bank — and a preflight proving every bank's first payment is accepted before anything
 * is timed.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';

import { Agent, request } from 'undici';

import { ProcessSampler } from '../lib/process-sampler.ts';
import type { ProgressLine } from '../lib/progress.ts';
import { type ChildReady, type ChildServer, type ChildSettings, startChild } from './children.ts';
import { type BenchDatabase, createBenchDatabase, openAccounts } from './ledger.ts';
import type { LoadEnvironment } from './load.ts';
import { MSG_ID_PREFIX } from './messages.ts';
import { type BenchBank, type BenchPki, createBenchPki } from './pki.ts';
import { INTAKE_PATH } from './request-factory.ts';
import { RequestSupply } from './request-supply.ts';
import type { E2eSettings } from './settings.ts';

/** The gateway process is sampled this often. */
export const SAMPLE_INTERVAL_MS = 1_000;
/** Requests per second and burst for every rate-limited route class: beyond what one machine can send. */
const BENCH_RATE_LIMIT = '1000000';

/** ISOGW_* variables of the caller's environment that would point the gateway elsewhere than the bench's own. */
const OVERRIDDEN_VARIABLES = ['ISOGW_REDIS_URL', 'ISOGW_DATABASE_URL', 'ISOGW_AUDIENCE', 'ISOGW_CLIENT_CERT_HEADER', 'ISOGW_TRUSTED_PROXIES'];

export interface BenchStack {
  readonly pki: BenchPki;
  readonly database: BenchDatabase;
  /** The reader partner's two settlement accounts, by BIC. */
  readonly readerAccounts: Readonly<Record<string, bigint>>;
  readonly childSettings: ChildSettings;
  readonly gateway: ChildServer<Extract<ChildReady, { role: 'gateway' }>>;
  readonly gatewayPort: number;
  readonly sampler: ProcessSampler;
  readonly env: LoadEnvironment;
  /** A real pacs.002 the gateway answered to a one-transaction message (the baseline's and the floor's answer). */
  readonly answer: string;
  /** Where `--cpu-prof` writes the gateway's profile, when asked. */
  readonly profileDir: string | undefined;
  /** Stops the gateway (idempotent): its profile is written on exit. */
  closeGateway(): Promise<void>;
  /** Stops everything still running and drops the database, in reverse order of start. */
  close(): Promise<void>;
}

/** Stacks not closed yet, so an interrupted run (Ctrl-C) can still stop its servers and drop its database. */
const openStacks = new Set<() => Promise<void>>();

/** Closes every stack still open (run.ts calls it on SIGINT/SIGTERM). */
export async function closeOpenStacks(): Promise<void> {
  await Promise.all([...openStacks].map((close) => close()));
}

export async function startBenchStack(settings: E2eSettings, progress: ProgressLine): Promise<BenchStack> {
  const cleanups: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    openStacks.delete(close);
    for (const cleanup of cleanups.splice(0)) await cleanup().catch((error: unknown) => progress.say(`  cleanup: ${(error as Error).message}`));
  };
  openStacks.add(close);
  try {
    const pki = await createBenchPki(settings.pkiDir, settings.debtorBanks, settings.creditorBanks);
    const database = await createBenchDatabase(settings.databaseUrl);
    cleanups.unshift(() => database.close());
    const { readerAccounts } = await openAccounts(database, {
      debtors: pki.debtors.map((bank) => ({ bic: bank.bic, name: `Bench Bank ${bank.index + 1}` })),
      creditorBics: pki.creditorBics,
      readerBics: [pki.reader.smallBic, pki.reader.largeBic],
    });
    const caPem = readFileSync(pki.files.caCert, 'utf8');

    const gatewayPort = await freePort();
    const gatewayOrigin = `https://localhost:${gatewayPort}`;
    const childSettings: ChildSettings = {
      pki: pki.files,
      redisUrl: settings.redisUrl,
      redisKeyPrefix: `isogw-bench:e2e:${randomUUID()}:`,
      gatewayOrigin,
      accessTokenTtlSeconds: settings.tokenTtlSeconds,
    };
    const authz = await startChild<Extract<ChildReady, { role: 'authz' }>>('authz', childSettings);
    cleanups.unshift(() => authz.close());

    // The gateway as production configures it: ISOGW_* variables (src/config/gateway-config.ts). Other ISOGW_*
    // settings in the caller's environment (a DPoP nonce secret, the webhook relay switch…) pass through.
    const gatewayEnv: NodeJS.ProcessEnv = {
      ...process.env,
      ISOGW_HOST: '127.0.0.1',
      ISOGW_PORT: String(gatewayPort),
      ISOGW_EXTERNAL_URL: gatewayOrigin,
      ISOGW_TLS_CERT_FILE: pki.files.serverCert,
      ISOGW_TLS_KEY_FILE: pki.files.serverKey,
      ISOGW_CLIENT_CA_FILE: pki.files.caCert,
      ISOGW_AS_ISSUER: authz.ready.issuer,
      ISOGW_AS_CA_FILE: pki.files.caCert,
      ISOGW_PARTNERS_FILE: pki.files.registry,
      REDIS_URL: settings.redisUrl,
      DATABASE_URL: database.url,
      // Per-partner rate limits stay on (their Redis round trip is part of the real path) but set above anything a
      // bench can send: the bench measures the gateway's ceiling, not a policy. The caller's environment may override.
      ISOGW_RATE_LIMIT_INTAKE_PER_SECOND: process.env.ISOGW_RATE_LIMIT_INTAKE_PER_SECOND ?? BENCH_RATE_LIMIT,
      ISOGW_RATE_LIMIT_INTAKE_BURST: process.env.ISOGW_RATE_LIMIT_INTAKE_BURST ?? BENCH_RATE_LIMIT,
      ISOGW_RATE_LIMIT_READ_PER_SECOND: process.env.ISOGW_RATE_LIMIT_READ_PER_SECOND ?? BENCH_RATE_LIMIT,
      ISOGW_RATE_LIMIT_READ_BURST: process.env.ISOGW_RATE_LIMIT_READ_BURST ?? BENCH_RATE_LIMIT,
    };
    for (const name of OVERRIDDEN_VARIABLES) delete gatewayEnv[name];
    const profileDir = settings.cpuProfile ? mkdtempSync(join(tmpdir(), 'isogw-bench-e2e-prof-')) : undefined;
    const gateway = await startChild<Extract<ChildReady, { role: 'gateway' }>>('gateway', childSettings, {
      env: gatewayEnv,
      execArgv: profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
    });
    let gatewayClosed = false;
    const closeGateway = async (): Promise<void> => {
      if (gatewayClosed) return;
      gatewayClosed = true;
      await gateway.close();
    };
    cleanups.unshift(closeGateway);
    const sampler = new ProcessSampler(gateway.pid, SAMPLE_INTERVAL_MS).start();
    cleanups.unshift(async () => sampler.stop());

    const banks: (BenchBank & { scope: string })[] = [
      ...pki.debtors.map((bank) => ({ ...bank, scope: 'payments:write payments:read' })),
      { ...pki.reader, scope: 'payments:read' },
    ];
    const supply = await RequestSupply.start({
      banks: banks.map((bank) => ({ index: bank.index, clientId: bank.clientId, bic: bank.bic, signingKeyFile: bank.signingKey, scope: bank.scope })),
      workers: settings.workers,
      issuer: authz.ready.issuer,
      tokenEndpoint: authz.ready.tokenEndpoint,
      caPem,
      origin: gatewayOrigin,
      tenTxShare: settings.tenTxShare,
      onwardShare: settings.onwardShare,
      creditorBics: pki.creditorBics,
    });
    cleanups.unshift(() => supply.stop());
    // One client TLS context per bank, shared by all its connections (BENCHMARKING.md trap 3).
    const contexts = new Map<number, SecureContext>(
      banks.map((bank) => [
        bank.index,
        createSecureContext({ ca: caPem, cert: readFileSync(bank.clientCert, 'utf8'), key: readFileSync(bank.clientKey, 'utf8'), minVersion: 'TLSv1.3' }),
      ]),
    );
    const env: LoadEnvironment = {
      supply,
      contextOf: (bank) => {
        const context = contexts.get(bank);
        if (context === undefined) throw new Error(`no TLS context for bank ${bank}`);
        return context;
      },
      sampler,
      progress,
    };

    const answer = await preflight(pki.debtors, gatewayPort, caPem, supply);
    progress.say(`  gateway ready (pid ${gateway.pid}, ${gatewayOrigin}); every bank's first payment accepted (${answer.length} B pacs.002)`);
    return { pki, database, readerAccounts, childSettings, gateway, gatewayPort, sampler, env, answer, profileDir, closeGateway, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

/**
 * One message per debtor bank through the gateway, each must be 200 with nothing rejected. Returns the answer to a
 * one-transaction message (most of the load; the baseline answers it to everything), or the shortest one seen.
 */
async function preflight(debtors: readonly BenchBank[], port: number, caPem: string, supply: RequestSupply): Promise<string> {
  const answers: string[] = [];
  for (const bank of debtors) {
    const agent = new Agent({ connect: { ca: caPem, cert: readFileSync(bank.clientCert, 'utf8'), key: readFileSync(bank.clientKey, 'utf8'), servername: 'localhost' } });
    try {
      const next = supply.next(bank.index);
      const response = await request(`https://127.0.0.1:${port}${INTAKE_PATH}`, { method: 'POST', dispatcher: agent, headers: next.headers, body: next.body ?? '' });
      const body = await response.body.text();
      if (response.statusCode !== 200 || body.includes('>RJCT<')) {
        throw new Error(`preflight: ${bank.clientId}'s first message was not accepted (HTTP ${response.statusCode}):\n${body.slice(0, 2000)}`);
      }
      answers.push(body);
    } finally {
      await agent.close();
    }
  }
  const oneTransaction = answers.find((body) => body.includes(`<OrgnlMsgId>${MSG_ID_PREFIX}A`));
  return oneTransaction ?? answers.reduce((a, b) => (b.length < a.length ? b : a));
}
