/**
 * Two partner banks, as their integration teams would build them, with the published openid-client as their OAuth
 * library (a client we did not write), over real TLS sockets:
 *
 * - bank-alpha: private_key_jwt at our authorization server, a DPoP-bound token, DPoP proofs made by openid-client;
 * - bank-beta: tls_client_auth over the AS's mTLS endpoint alias, a certificate-bound token.
 *
 * Each obtains its token and posts a pacs.008 to the gateway over mutual TLS, and gets an XSD-valid pacs.002 that
 * says what the ledger did: bank-alpha's payment to a bank outside the gateway is held for the onward leg (ACSP),
 * bank-beta's ten payments to bank-gamma settle on-us at once (ACSC). Balances move exactly once, and a retry with
 * the same Idempotency-Key gets the same bytes back.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { XmlDocument } from 'libxml2-wasm';
import * as jose from 'jose';
import * as client from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestAuthorizationServer, type TestAuthorizationServer } from '../support/authz.ts';
import { schemas } from '../support/fixtures.ts';
import { DEV_FUNDING_MINOR, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { freshPacs008 } from '../support/messages.ts';

let as: TestAuthorizationServer;
let gateway: TestGateway;
const agents: Agent[] = [];

beforeAll(async () => {
  as = await startTestAuthorizationServer();
  gateway = await startTestGateway(as);
});

afterAll(async () => {
  await gateway?.close();
  await as?.close();
  await Promise.all(agents.map((agent) => agent.close()));
});

/** The partner's HTTPS stack: trusts our CA, presents its own client certificate wherever one is asked for. */
function partnerFetch(clientId: string): client.CustomFetch {
  const files = as.pki.partners[clientId]!;
  const agent = new Agent({
    connect: { ca: readFileSync(as.pki.caCert, 'utf8'), cert: readFileSync(files.clientCert, 'utf8'), key: readFileSync(files.clientKey, 'utf8') },
  });
  agents.push(agent);
  return (url, options) => undiciFetch(url, { ...options, dispatcher: agent } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
}

async function privateKeyOf(clientId: string): Promise<{ key: jose.CryptoKey; kid?: string }> {
  const jwk = JSON.parse(readFileSync(as.pki.partners[clientId]!.signingKey!, 'utf8')) as jose.JWK;
  const key = (await jose.importJWK(jwk, jwk.alg ?? "ES256")) as jose.CryptoKey;
  return jwk.kid === undefined ? { key } : { key, kid: jwk.kid };
}

async function balanceOf(bic: string, kind = 'settlement'): Promise<bigint> {
  const { rows } = await gateway.database.pool.query<{ balance: string }>(
    `select a.balance from accounts a left join participants p on p.id = a.participant_id
      where a.currency = 'EUR' and a.kind = $2 and (p.bic = $1 or ($1 = '' and p.id is null))`,
    [bic, kind],
  );
  return BigInt(rows[0]?.balance ?? '0');
}

/** Sum of the message's IntrBkSttlmAmt in cents, read from the exact decimal text. */
function totalCents(xml: string): bigint {
  return [...xml.matchAll(/<IntrBkSttlmAmt Ccy="EUR">(\d+)\.(\d{2})<\/IntrBkSttlmAmt>/g)].reduce((sum, m) => sum + BigInt(m[1]! + m[2]!), 0n);
}

function pacs002(xml: string): { groupStatus: string; transactionStatuses: string[] } {
  const doc = XmlDocument.fromString(xml);
  try {
    const namespace = doc.root.namespaceUri;
    schemas.validatorFor(namespace.slice('urn:iso:std:iso:20022:tech:xsd:'.length)).validate(doc);
    const ns = { p: namespace };
    return {
      groupStatus: String(doc.eval('string(//p:OrgnlGrpInfAndSts/p:GrpSts)', ns)),
      transactionStatuses: (doc.find('//p:TxInfAndSts/p:TxSts', ns) as { content: string }[]).map((node) => node.content),
    };
  } finally {
    doc.dispose();
  }
}

describe('bank-alpha: private_key_jwt + DPoP (openid-client)', () => {
  it('obtains a DPoP-bound token, posts a pacs.008 to a bank outside the gateway: XSD-valid pacs.002 ACSP, funds held once, retry replayed', async () => {
    const config = await client.discovery(new URL(as.issuer), 'bank-alpha', {}, client.PrivateKeyJwt(await privateKeyOf('bank-alpha')), {
      [client.customFetch]: partnerFetch('bank-alpha'),
    });
    const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'payments:write payments:read' }, { DPoP: dpop });
    expect(tokens.token_type.toLowerCase()).toBe('dpop');

    const { xml } = freshPacs008('alpha1');
    const idempotencyKey = randomUUID();
    const post = () =>
      client.fetchProtectedResource(
        config,
        tokens.access_token,
        new URL('/iso20022/pacs.008', gateway.origin),
        'POST',
        xml,
        new Headers({ 'content-type': 'application/xml', 'idempotency-key': `"${idempotencyKey}"` }),
        { DPoP: dpop },
      );
    const response = await post();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/xml');
    const first = await response.text();
    expect(pacs002(first)).toEqual({ groupStatus: 'ACSP', transactionStatuses: ['ACSP'] });
    const amount = totalCents(xml);
    expect(amount).toBe(4_873_265n);
    expect(await balanceOf('DEUTDEFFXXX')).toBe(DEV_FUNDING_MINOR - amount);
    expect(await balanceOf('', 'suspense')).toBe(amount);

    // The partner's retry (same key, same bytes, a fresh DPoP proof): the same answer, byte for byte, nothing moved.
    const retry = await post();
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.text()).toBe(first);
    expect(await balanceOf('DEUTDEFFXXX')).toBe(DEV_FUNDING_MINOR - amount);
    expect(await balanceOf('', 'suspense')).toBe(amount);
  });

  it('follows the gateway’s DPoP nonce challenge (RFC 9449 §9) without help', async () => {
    const nonceGateway = await startTestGateway(as, { dpopNonce: { secret: randomBytes(32), required: true } });
    try {
      const seen: { status: number; challenge: string | null; nonce: string | null }[] = [];
      const fetchAsAlpha = partnerFetch('bank-alpha');
      const observed: client.CustomFetch = async (url, options) => {
        const response = await fetchAsAlpha(url, options);
        if (url.startsWith(nonceGateway.origin)) {
          seen.push({ status: response.status, challenge: response.headers.get('www-authenticate'), nonce: response.headers.get('dpop-nonce') });
        }
        return response;
      };
      const config = await client.discovery(new URL(as.issuer), 'bank-alpha', {}, client.PrivateKeyJwt(await privateKeyOf('bank-alpha')), {
        [client.customFetch]: observed,
      });
      const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
      const tokens = await client.clientCredentialsGrant(config, { scope: 'payments:read' }, { DPoP: dpop });
      const response = await client.fetchProtectedResource(config, tokens.access_token, new URL('/partners/me', nonceGateway.origin), 'GET', undefined, undefined, { DPoP: dpop });

      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ clientId: 'bank-alpha', binding: 'dpop', bics: ['DEUTDEFFXXX'] });
      // The library saw our challenge, took the nonce, and retried once on its own.
      expect(seen).toHaveLength(2);
      expect(seen[0]).toMatchObject({ status: 401 });
      expect(seen[0]?.challenge).toContain('error="use_dpop_nonce"');
      expect(seen[0]?.nonce).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect(seen[1]?.status).toBe(200);
    } finally {
      await nonceGateway.close();
    }
  });
});

describe('bank-beta: tls_client_auth + certificate-bound token (openid-client)', () => {
  it('obtains a certificate-bound token over the mTLS alias and posts a 10-transaction pacs.008 that settles on-us (ACSC)', async () => {
    const config = await client.discovery(new URL(as.issuer), 'bank-beta', { use_mtls_endpoint_aliases: true }, client.TlsClientAuth(), {
      [client.customFetch]: partnerFetch('bank-beta'),
    });
    const tokens = await client.clientCredentialsGrant(config, { scope: 'payments:write' });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(jose.decodeJwt(tokens.access_token).cnf).toHaveProperty(['x5t#S256']);

    const { xml } = freshPacs008('beta10');
    const gammaBefore = await balanceOf('ABNANL2AXXX');
    const response = await client.fetchProtectedResource(
      config,
      tokens.access_token,
      new URL('/iso20022/pacs.008', gateway.origin),
      'POST',
      xml,
      new Headers({ 'content-type': 'application/xml', 'idempotency-key': randomUUID() }),
    );
    expect(response.status).toBe(200);
    const report = pacs002(await response.text());
    expect(report.groupStatus).toBe('ACSC');
    expect(report.transactionStatuses).toEqual(Array.from({ length: 10 }, () => 'ACSC'));
    const amount = totalCents(xml);
    expect(await balanceOf('COBADEFFXXX')).toBe(DEV_FUNDING_MINOR - amount);
    expect(await balanceOf('ABNANL2AXXX')).toBe(gammaBefore + amount);
  });
});
