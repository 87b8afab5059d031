/**
 * Two partner banks, as their integration teams would build them, with the published openid-client as their OAuth
 * library (a client we did not write), over real TLS sockets:
 *
 * - bank-alpha: private_key_jwt at our authorization server, a DPoP-bound token, DPoP proofs made by openid-client;
 * - bank-beta: tls_client_auth over the AS's mTLS endpoint alias, a certificate-bound token.
 *
 * Each obtains its token and posts a pacs.008 to the gateway over mutual TLS, and gets an XSD-valid pacs.002.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { XmlDocument } from 'libxml2-wasm';
import * as jose from 'jose';
import * as client from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestAuthorizationServer, type TestAuthorizationServer } from '../support/authz.ts';
import { schemas } from '../support/fixtures.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
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
  it('obtains a DPoP-bound token and posts a pacs.008 that is answered with an XSD-valid pacs.002 ACTC', async () => {
    const config = await client.discovery(new URL(as.issuer), 'bank-alpha', {}, client.PrivateKeyJwt(await privateKeyOf('bank-alpha')), {
      [client.customFetch]: partnerFetch('bank-alpha'),
    });
    const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'payments:write payments:read' }, { DPoP: dpop });
    expect(tokens.token_type.toLowerCase()).toBe('dpop');

    const { xml } = freshPacs008('alpha1');
    const response = await client.fetchProtectedResource(
      config,
      tokens.access_token,
      new URL('/iso20022/pacs.008', gateway.origin),
      'POST',
      xml,
      new Headers({ 'content-type': 'application/xml' }),
      { DPoP: dpop },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/xml');
    expect(pacs002(await response.text())).toEqual({ groupStatus: 'ACTC', transactionStatuses: ['ACTC'] });
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
  it('obtains a certificate-bound token over the mTLS alias and posts a 10-transaction pacs.008', async () => {
    const config = await client.discovery(new URL(as.issuer), 'bank-beta', { use_mtls_endpoint_aliases: true }, client.TlsClientAuth(), {
      [client.customFetch]: partnerFetch('bank-beta'),
    });
    const tokens = await client.clientCredentialsGrant(config, { scope: 'payments:write' });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(jose.decodeJwt(tokens.access_token).cnf).toHaveProperty(['x5t#S256']);

    const response = await client.fetchProtectedResource(
      config,
      tokens.access_token,
      new URL('/iso20022/pacs.008', gateway.origin),
      'POST',
      freshPacs008('beta10').xml,
      new Headers({ 'content-type': 'application/xml' }),
    );
    expect(response.status).toBe(200);
    const report = pacs002(await response.text());
    expect(report.groupStatus).toBe('ACTC');
    expect(report.transactionStatuses).toEqual(Array.from({ length: 10 }, () => 'ACTC'));
  });
});
