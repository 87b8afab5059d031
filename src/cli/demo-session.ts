/**
 * A partner bank's session with the gateway, as its integration team would write it with jose and undici: mutual
 * TLS with its client certificate, a client assertion (private_key_jwt, RFC 7523) for a DPoP-bound access token
 * (RFC 9449), and a fresh DPoP proof (with `ath`) on every call.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

import * as jose from 'jose';
import { Agent, fetch } from 'undici';

import type { DevPkiFiles } from '../certs/dev-pki.ts';

export const SESSION_LIMITS = Object.freeze({
  /** Client assertion lifetime (the AS accepts at most 300 s). */
  clientAssertionLifetimeSeconds: 60,
});

export interface SessionTarget {
  readonly issuer: string;
  readonly gatewayOrigin: string;
  readonly pki: DevPkiFiles;
}

export interface Account {
  readonly clientId: string;
  readonly bic: string;
  readonly currency: string;
  /** Exact decimal text. */
  readonly balance: string;
}

export interface Session {
  readonly token: { readonly type: string; readonly expiresInSeconds: number; readonly dpopKeyThumbprint: string };
  call(method: string, path: string, body?: string, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: string }>;
  /** The partner's EUR settlement account from GET /accounts. */
  settlementAccount(): Promise<Account>;
  close(): Promise<void>;
}

/** A partner's token (private_key_jwt + DPoP) and a way to call the gateway with it over mutual TLS. */
export async function openSession(options: SessionTarget, clientId: string, scope: string): Promise<Session> {
  const files = options.pki.partners[clientId];
  if (files?.signingKey === undefined) throw new TypeError(`${clientId} has no private_key_jwt signing key in ${options.pki.dir}`);
  const agent = new Agent({
    connect: { ca: readFileSync(options.pki.caCert, 'utf8'), cert: readFileSync(files.clientCert, 'utf8'), key: readFileSync(files.clientKey, 'utf8') },
  });
  try {
    const signingJwk = JSON.parse(readFileSync(files.signingKey, 'utf8')) as jose.JWK;
    const dpopKeys = await jose.generateKeyPair('ES256');
    const dpopJwk = await jose.exportJWK(dpopKeys.publicKey);
    const proof = (method: string, url: string, accessToken?: string): Promise<string> =>
      new jose.SignJWT({ htm: method, htu: url, ...(accessToken === undefined ? {} : { ath: createHash('sha256').update(accessToken, 'utf8').digest('base64url') }) })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: dpopJwk })
        .setJti(randomUUID())
        .setIssuedAt()
        .sign(dpopKeys.privateKey);

    const tokenEndpoint = `${options.issuer}/token`;
    const assertion = await new jose.SignJWT({})
      .setProtectedHeader({ alg: signingJwk.alg ?? 'ES256', ...(signingJwk.kid === undefined ? {} : { kid: signingJwk.kid }) })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(options.issuer)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(`${SESSION_LIMITS.clientAssertionLifetimeSeconds}s`)
      .sign(await jose.importJWK(signingJwk, signingJwk.alg ?? 'ES256'));
    const tokenResponse = await fetch(tokenEndpoint, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await proof('POST', tokenEndpoint) },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }).toString(),
    });
    const token = (await tokenResponse.json()) as { access_token?: string; token_type?: string; expires_in?: number };
    if (tokenResponse.status !== 200 || token.access_token === undefined) throw new Error(`${clientId}'s token request was refused: HTTP ${tokenResponse.status} ${JSON.stringify(token)}`);
    const accessToken = token.access_token;

    const call: Session['call'] = async (method, path, body, headers = {}) => {
      const url = `${options.gatewayOrigin}${path}`;
      const response = await fetch(url, {
        method,
        dispatcher: agent,
        headers: { authorization: `DPoP ${accessToken}`, dpop: await proof(method, url, accessToken), ...headers },
        ...(body === undefined ? {} : { body }),
      });
      return { status: response.status, headers: response.headers as unknown as Headers, body: await response.text() };
    };
    return {
      token: { type: token.token_type ?? '?', expiresInSeconds: token.expires_in ?? 0, dpopKeyThumbprint: await jose.calculateJwkThumbprint(dpopJwk) },
      call,
      async settlementAccount() {
        const answer = await call('GET', '/accounts');
        if (answer.status !== 200) throw new Error(`${clientId}: GET /accounts answered HTTP ${answer.status} ${answer.body}`);
        const { accounts } = JSON.parse(answer.body) as { accounts: { bic: string; kind: string; currency: string; balance: { value: string } }[] };
        const account = accounts.find((a) => a.kind === 'settlement' && a.currency === 'EUR');
        if (account === undefined) throw new Error(`${clientId} has no EUR settlement account`);
        return { clientId, bic: account.bic, currency: account.currency, balance: account.balance.value };
      },
      close: () => agent.close(),
    };
  } catch (error) {
    await agent.close();
    throw error;
  }
}
