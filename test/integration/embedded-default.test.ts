/**
 * The embedded default, end to end: the authorization server on in-memory state, the gateway on PGlite (behind its
 * socket server, one session) with the in-memory replay store and Idempotency-Key fast path and a relay that polls —
 * and no Redis at all (the gateway's REDIS_URL points at a port nothing listens on, so any use of it would show as
 * a 503). Through it, a partner bank does what it does against the real servers, with the published openid-client:
 * a DPoP-bound token, a pacs.008 accepted and booked, a retry replayed, a replayed proof and a replayed client
 * assertion refused, signed webhooks received. The same code paths above the ports, the same SQL.
 */
import { createServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

import * as jose from 'jose';
import * as client from 'openid-client';
import pg from 'pg';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadAuthorizationServerKeyMaterial } from '../../src/authz/key-material.ts';
import { type RunningAuthorizationServer, startAuthorizationServer } from '../../src/authz/server.ts';
import type { GatewayConfig } from '../../src/config/gateway-config.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../src/embedded/embedded-postgres.ts';
import { createMemoryIdempotencyFastPath } from '../../src/embedded/memory-idempotency.ts';
import { memoryAdapterFactory } from '../../src/embedded/memory-oidc-adapter.ts';
import { createMemoryReplayStore } from '../../src/embedded/memory-replay-store.ts';
import { ensureSettlementAccount } from '../../src/ledger/accounts.ts';
import { fundSettlementAccount } from '../../src/ledger/fund.ts';
import { loadPartnerRegistry } from '../../src/partners/registry.ts';
import { SECURITY_LIMITS } from '../../src/security/limits.ts';
import { type RunningGateway, startGateway } from '../../src/server.ts';
import { schemas } from '../support/fixtures.ts';
import { DEV_FUNDING_MINOR, freePort } from '../support/gateway.ts';
import { freshPacs008 } from '../support/messages.ts';
import { devPki } from '../support/pki.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const ARRIVAL_TIMEOUT_MS = 20_000;
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

let database: EmbeddedPostgres;
let as: RunningAuthorizationServer;
let gateway: RunningGateway;
let gatewayOrigin: string;
let receiver: WebhookReceiver;
let alphaAgent: Agent;
let alphaSigningKey: { key: jose.CryptoKey; kid?: string };
let deadRedisUrl: string;

/** Owner statements, on a connection of their own: only while the gateway is not running (one session, see embedded-postgres.ts). */
async function asOwner<T>(work: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const owner = new pg.Pool({ connectionString: database.url, max: 1 });
  try {
    return await work(owner);
  } finally {
    await owner.end();
  }
}

beforeAll(async () => {
  const pki = await devPki();
  database = await startEmbeddedPostgres();
  await asOwner(async (owner) => {
    for (const [bic, name] of [['DEUTDEFFXXX', 'Bank Alpha'], ['COBADEFFXXX', 'Bank Beta']] as const) {
      await fundSettlementAccount(owner, { bic, name, currency: 'EUR', amount: DEV_FUNDING_MINOR, reference: 'embedded test funding' });
    }
    const connection = await owner.connect();
    try {
      await ensureSettlementAccount(connection, { bic: 'ABNANL2AXXX', name: 'Bank Gamma' }, 'EUR');
    } finally {
      connection.release();
    }
  });

  const port = await freePort();
  gatewayOrigin = `https://localhost:${port}`;
  const ca = readFileSync(pki.caCert, 'utf8');
  const keys = await loadAuthorizationServerKeyMaterial({ signingKeysFile: pki.authzSigningKeys, secretsFile: pki.authzSecrets });
  as = await startAuthorizationServer({
    ...keys,
    requireDpopNonce: false,
    registry: loadPartnerRegistry(pki.registry),
    adapter: memoryAdapterFactory(),
    gatewayAudience: gatewayOrigin,
    tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caCert },
    issuerPort: 0,
    mtlsPort: 0,
  });

  deadRedisUrl = `redis://127.0.0.1:${await closedPort()}`;
  const config: GatewayConfig = Object.freeze({
    listen: { host: '127.0.0.1', port },
    externalOrigin: new URL(gatewayOrigin),
    tls: { certificate: readFileSync(pki.serverCert, 'utf8'), privateKey: readFileSync(pki.serverKey, 'utf8'), clientCa: ca, minVersion: 'TLSv1.3' as const },
    clientCertificate: { source: 'tls' as const },
    authorizationServer: { issuer: as.issuer, jwksUri: new URL(`${as.issuer}/jwks`), ca },
    audience: gatewayOrigin,
    partnersFile: pki.registry,
    redisUrl: deadRedisUrl,
    // The production role setting; PGlite ignores the startup option (see embedded-postgres.ts).
    database: { url: database.url, role: 'isogw_app', singleSession: true },
    limits: SECURITY_LIMITS,
    webhooks: { relay: true, allowInsecureEndpoints: true, retryScheduleMs: [100, 200] },
  });
  gateway = await startGateway(config, {
    schemas,
    sharedState: { replayStore: createMemoryReplayStore(), idempotency: createMemoryIdempotencyFastPath() },
  });

  receiver = await startWebhookReceiver();
  const alpha = pki.partners['bank-alpha']!;
  alphaAgent = new Agent({ connect: { ca, cert: readFileSync(alpha.clientCert, 'utf8'), key: readFileSync(alpha.clientKey, 'utf8') } });
  const jwk = JSON.parse(readFileSync(alpha.signingKey!, 'utf8')) as jose.JWK;
  alphaSigningKey = { key: (await jose.importJWK(jwk, jwk.alg ?? 'ES256')) as jose.CryptoKey, ...(jwk.kid === undefined ? {} : { kid: jwk.kid }) };
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await as?.close();
  await receiver?.close();
  await alphaAgent?.close();
  await database?.close();
});

const alphaFetch: client.CustomFetch = (url, options) =>
  undiciFetch(url, { ...options, dispatcher: alphaAgent } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;

/** bank-alpha as its integration team would do it: discovery, private_key_jwt, a DPoP key of its own. */
async function alphaSession(scope = 'payments:write payments:read') {
  const config = await client.discovery(new URL(as.issuer), 'bank-alpha', {}, client.PrivateKeyJwt(alphaSigningKey), { [client.customFetch]: alphaFetch });
  const keyPair = (await jose.generateKeyPair('ES256', { extractable: true })) as client.CryptoKeyPair;
  const dpop = client.getDPoPHandle(config, keyPair);
  const tokens = await client.clientCredentialsGrant(config, { scope }, { DPoP: dpop });
  const call = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
    client.fetchProtectedResource(config, tokens.access_token, new URL(path, gatewayOrigin), method, body, new Headers(headers), { DPoP: dpop });
  return { tokens, keyPair, call };
}

const uetrOf = (xml: string): string => /<UETR>([^<]+)<\/UETR>/.exec(xml)![1]!;
/** Sum of the message's IntrBkSttlmAmt in cents, read from the exact decimal text. */
const centsOf = (xml: string): bigint =>
  [...xml.matchAll(/<IntrBkSttlmAmt Ccy="EUR">(\d+)\.(\d{2})<\/IntrBkSttlmAmt>/g)].reduce((sum, m) => sum + BigInt(m[1]! + m[2]!), 0n);
const groupStatusOf = (pacs002: string): string | undefined => /<GrpSts>([A-Z]{4})<\/GrpSts>/.exec(pacs002)?.[1];

interface Delivered {
  readonly type: string;
  readonly data: { readonly uetr: string; readonly sequence: number; readonly status: string };
}

describe('the embedded default: PGlite and in-memory ports, no Redis', () => {
  const posted: { uetr: string; cents: bigint }[] = [];

  it('issues bank-alpha a DPoP-bound token and accepts its pacs.008: pacs.002 ACSP, a retry replayed byte for byte', async () => {
    const alpha = await alphaSession();
    expect(alpha.tokens.token_type.toLowerCase()).toBe('dpop');
    const registered = await alpha.call('POST', '/webhooks/endpoints', JSON.stringify({ url: receiver.url }), { 'content-type': 'application/json' });
    expect(registered.status).toBe(201);
    receiver.setSecrets([((await registered.json()) as { signing: { secret: string } }).signing.secret]);

    const { xml } = freshPacs008('alpha1');
    const idempotencyKey = randomUUID();
    const post = () => alpha.call('POST', '/iso20022/pacs.008', xml, { 'content-type': 'application/xml', 'idempotency-key': idempotencyKey });
    const first = await post();
    expect(first.status).toBe(200);
    const answer = await first.text();
    expect(groupStatusOf(answer)).toBe('ACSP');
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    const retry = await post();
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.text()).toBe(answer);
    posted.push({ uetr: uetrOf(xml), cents: centsOf(xml) });
  });

  it('refuses a DPoP proof sent a second time (the in-memory replay store)', async () => {
    const alpha = await alphaSession('payments:read');
    const url = `${gatewayOrigin}/partners/me`;
    const publicJwk = await jose.exportJWK(alpha.keyPair.publicKey);
    const proof = await new jose.SignJWT({
      htm: 'GET',
      htu: url,
      ath: jose.base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(alpha.tokens.access_token)))),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk })
      .setJti(randomUUID())
      .setIssuedAt()
      .sign(alpha.keyPair.privateKey);
    const send = () => undiciFetch(url, { dispatcher: alphaAgent, headers: { authorization: `DPoP ${alpha.tokens.access_token}`, dpop: proof } });
    expect((await send()).status).toBe(200);
    const replayed = await send();
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get('www-authenticate')).toContain('invalid_dpop_proof');
  });

  it('refuses a client assertion used a second time (the in-memory oidc-provider adapter)', async () => {
    const assertion = await new jose.SignJWT({})
      .setProtectedHeader({ alg: 'ES256', ...(alphaSigningKey.kid === undefined ? {} : { kid: alphaSigningKey.kid }) })
      .setIssuer('bank-alpha')
      .setSubject('bank-alpha')
      .setAudience(as.issuer)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(alphaSigningKey.key);
    const request = async () => {
      const { publicKey, privateKey } = await jose.generateKeyPair('ES256');
      const proof = await new jose.SignJWT({ htm: 'POST', htu: `${as.issuer}/token` })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await jose.exportJWK(publicKey) })
        .setJti(randomUUID())
        .setIssuedAt()
        .sign(privateKey);
      const response = await undiciFetch(`${as.issuer}/token`, {
        method: 'POST',
        dispatcher: alphaAgent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'payments:read', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion }).toString(),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    expect((await request()).status).toBe(200);
    const replayed = await request();
    expect(replayed.status).toBe(401);
    expect(replayed.body.error).toBe('invalid_client');
  });

  it('delivers the payment’s status webhooks, signed and in order, from a relay that polls its one connection', async () => {
    const [payment] = posted;
    expect(payment).toBeDefined();
    await receiver.waitFor((r) => r.delivered().length >= 2, ARRIVAL_TIMEOUT_MS);
    const events = receiver.delivered().map((r) => r.payload as Delivered);
    expect(events.map((event) => [event.data.uetr, event.data.sequence, event.data.status])).toEqual([
      [payment!.uetr, 1, 'RCVD'],
      [payment!.uetr, 2, 'ACSP'],
    ]);
    // The gateway and its relay took turns on one connection: transactions never interleaved on the one session.
    expect(database.stats().connections).toBe(1);
  });

  it('leaves the ledger with the money moved exactly once, read after the gateway has closed', async () => {
    await gateway.close();
    const balances = await asOwner(async (owner) => {
      const { rows } = await owner.query<{ bic: string | null; kind: string; balance: string }>(
        `select p.bic, a.kind, a.balance from accounts a left join participants p on p.id = a.participant_id where a.currency = 'EUR' order by a.id`,
      );
      return rows;
    });
    const total = posted.reduce((sum, payment) => sum + payment.cents, 0n);
    expect(BigInt(balances.find((row) => row.bic === 'DEUTDEFFXXX')!.balance)).toBe(DEV_FUNDING_MINOR - total);
    expect(BigInt(balances.find((row) => row.kind === 'suspense')!.balance)).toBe(total);
  });
});

/** A loopback port nothing listens on (bound once by us, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}
