/**
 * The bad-input matrix's toolkit: a fully valid request per binding, built from real keys, real certificates and a
 * token signed with the authorization server's real key, which a test then spoils in exactly one way; and the
 * assertions every refusal must pass.
 *
 * A spoil names only what it changes — `validDpopRequest(h, { proofClaims: { htm: 'GET' } })` — and everything else
 * (the token, the proof's ath over that token, the connection, the body) stays what a successful request sends. So
 * each refusal test proves a single check: take the check out and the same request goes through.
 *
 * @example
 * const h = await startMatrix();
 * const { request } = await validDpopRequest(h, { proofClaims: { ath: undefined } });
 * expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_dpop_proof', scheme: 'DPoP' });
 */
import { randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { checkServerIdentity, connect } from 'node:tls';

import { XmlDocument } from 'libxml2-wasm';
import type { JWK, SignJWT } from 'jose';
import { Agent } from 'undici';
import { expect } from 'vitest';

import { FAPI_SIGNING_ALGORITHMS } from '../../src/partners/registry.ts';
import { startTestAuthorizationServer, type TestAuthorizationServer } from './authz.ts';
import {
  certificateThumbprint,
  dpopProof,
  type GatewayAnswer,
  mintAccessToken,
  newKey,
  partnerAgent,
  send,
  type SigningKey,
  startTestGateway,
  type TestGateway,
  thumbprintOfJwk,
} from './gateway.ts';
import { freshPacs008 } from './messages.ts';

export const INTAKE_PATH = '/iso20022/pacs.008';
export const PARTNER_SELF_PATH = '/partners/me';
export const DEV_PARTNER_IDS = ['bank-alpha', 'bank-beta', 'bank-gamma'] as const;
export type DevPartnerId = (typeof DEV_PARTNER_IDS)[number];

/** FAPI 2.0 §6.2.1: the interaction id is an RFC 4122 UUID. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One authorization server, one gateway, and a connection per dev partner. */
export interface Matrix {
  readonly as: TestAuthorizationServer;
  readonly gateway: TestGateway;
  readonly agents: Readonly<Record<DevPartnerId, Agent>>;
  /** Extra agents and gateways a test opened; closed with the matrix. */
  track<T extends { close(): Promise<unknown> }>(resource: T): T;
  close(): Promise<void>;
}

export async function startMatrix(gatewayOverrides: Parameters<typeof startTestGateway>[1] = {}): Promise<Matrix> {
  const as = await startTestAuthorizationServer();
  const tracked: { close(): Promise<unknown> }[] = [];
  let gateway: TestGateway;
  try {
    gateway = await startTestGateway(as, gatewayOverrides);
  } catch (error) {
    await as.close();
    throw error;
  }
  const agents = Object.fromEntries(DEV_PARTNER_IDS.map((id) => [id, partnerAgent(as, id)])) as Record<DevPartnerId, Agent>;
  return {
    as,
    gateway,
    agents,
    track: (resource) => {
      tracked.push(resource);
      return resource;
    },
    close: async () => {
      // Gateways first (they hold Redis prefixes and a JWKS client pointing at the AS), then agents, then the AS.
      await Promise.allSettled(tracked.map((resource) => resource.close()));
      await gateway.close();
      await Promise.all(Object.values(agents).map((agent) => agent.close()));
      await as.close();
    },
  };
}

/** A request ready to be sent: the connection it goes over and the bytes it carries. */
export interface MatrixRequest {
  readonly agent: Agent;
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string | string[]>;
  readonly body?: string;
}

export function sendMatrix(request: MatrixRequest): Promise<GatewayAnswer> {
  return send(request.agent, request.url, {
    method: request.method,
    headers: request.headers,
    ...(request.body === undefined ? {} : { body: request.body }),
  });
}

/** What a token spoil may change; anything not named is what the authorization server would have issued. */
export interface TokenSpoil {
  /** Claims to override; `undefined` removes the claim. */
  readonly tokenClaims?: Record<string, unknown>;
  /** Header parameters to override; `undefined` removes the parameter. */
  readonly tokenHeader?: Record<string, unknown>;
  /** Sign the token some other way (another key, a MAC). */
  readonly signToken?: (jwt: SignJWT) => Promise<string>;
  /** Rewrite the minted token by hand (strip its signature, replace it with garbage). */
  readonly rewriteToken?: (token: string) => string;
}

/** What a request spoil may change. */
export interface RequestSpoil {
  /** Whose certificate the connection presents (default: the token's partner). */
  readonly connection?: DevPartnerId | Agent;
  /** The Authorization scheme as sent (default DPoP, resp. Bearer). */
  readonly scheme?: string;
  readonly method?: string;
  readonly path?: string;
  /** Appended to the URL as is, e.g. `?access_token=...`. */
  readonly query?: string;
  /** Headers to add or replace; a value of `undefined` removes the header. */
  readonly headers?: Record<string, string | string[] | undefined>;
  readonly body?: string | undefined;
}

/** What a DPoP proof spoil may change. */
export interface ProofSpoil {
  /** The client's DPoP key: the token is bound to it and the proof made with it (default a fresh ES256 key). */
  readonly key?: SigningKey;
  readonly proofClaims?: Record<string, unknown>;
  readonly proofHeader?: Record<string, unknown>;
  /** Sign the proof with another key than the one in its jwk header. */
  readonly proofSignWith?: SigningKey;
  /** A hand-made proof; `null` sends no DPoP header at all. */
  readonly proof?: string | null;
}

export interface BuiltRequest {
  readonly request: MatrixRequest;
  readonly token: string;
  readonly url: string;
}

export interface BuiltDpopRequest extends BuiltRequest {
  readonly key: SigningKey;
  readonly proof: string | undefined;
}

/**
 * A request that succeeds: bank-alpha over its own mTLS connection, a DPoP-bound token for it, a proof for exactly
 * this method and URL, and — for the intake — a fresh pacs.008 it may send. `partner` builds the same request for
 * another partner: bank-gamma's succeeds for GET only (read scope), bank-beta's never (it must use certificate-bound
 * tokens).
 */
export async function validDpopRequest(
  matrix: Matrix,
  spoil: TokenSpoil & ProofSpoil & RequestSpoil & { readonly partner?: DevPartnerId } = {},
): Promise<BuiltDpopRequest> {
  const partner = spoil.partner ?? 'bank-alpha';
  const key = spoil.key ?? (await newKey('ES256'));
  const minted = await mintAccessToken(matrix.as, {
    claims: {
      sub: partner,
      client_id: partner,
      scope: partner === 'bank-gamma' ? 'payments:read' : 'payments:write payments:read',
      cnf: { jkt: await thumbprintOfJwk(key.publicJwk) },
      ...spoil.tokenClaims,
    },
    ...(spoil.tokenHeader === undefined ? {} : { header: spoil.tokenHeader }),
    ...(spoil.signToken === undefined ? {} : { sign: spoil.signToken }),
  });
  const token = spoil.rewriteToken === undefined ? minted : spoil.rewriteToken(minted);
  const method = spoil.method ?? 'POST';
  const path = spoil.path ?? (method === 'GET' ? PARTNER_SELF_PATH : INTAKE_PATH);
  const url = `${matrix.gateway.origin}${path}`;
  const proof =
    spoil.proof === null
      ? undefined
      : (spoil.proof ??
        (await dpopProof(key, method, url, token, {
          ...(spoil.proofClaims === undefined ? {} : { claims: spoil.proofClaims }),
          ...(spoil.proofHeader === undefined ? {} : { header: spoil.proofHeader }),
          ...(spoil.proofSignWith === undefined ? {} : { signWith: spoil.proofSignWith }),
        })));
  const request = assemble(matrix, {
    connection: spoil.connection ?? partner,
    url: `${url}${spoil.query ?? ''}`,
    method,
    headers: {
      authorization: `${spoil.scheme ?? 'DPoP'} ${token}`,
      ...(proof === undefined ? {} : { dpop: proof }),
      ...(method === 'POST' ? { 'content-type': 'application/xml', 'idempotency-key': randomUUID() } : {}),
    },
    spoilHeaders: spoil.headers,
    body: 'body' in spoil ? spoil.body : method === 'POST' ? freshPacs008(partner === 'bank-beta' ? 'beta10' : 'alpha1').xml : undefined,
  });
  return { request, token, url, key, proof };
}

/**
 * A request that succeeds: bank-beta over its own mTLS connection, a token bound to its certificate
 * (`cnf.x5t#S256`, RFC 8705 §3) sent as a Bearer token, and a fresh 10-transaction pacs.008 from its BIC.
 */
export async function validCertificateBoundRequest(
  matrix: Matrix,
  spoil: TokenSpoil & RequestSpoil & { readonly boundTo?: string } = {},
): Promise<BuiltRequest> {
  const minted = await mintAccessToken(matrix.as, {
    claims: {
      sub: 'bank-beta',
      client_id: 'bank-beta',
      cnf: { 'x5t#S256': certificateThumbprint(spoil.boundTo ?? partnerCertificatePem(matrix, 'bank-beta')) },
      ...spoil.tokenClaims,
    },
    ...(spoil.tokenHeader === undefined ? {} : { header: spoil.tokenHeader }),
    ...(spoil.signToken === undefined ? {} : { sign: spoil.signToken }),
  });
  const token = spoil.rewriteToken === undefined ? minted : spoil.rewriteToken(minted);
  const method = spoil.method ?? 'POST';
  const path = spoil.path ?? (method === 'GET' ? PARTNER_SELF_PATH : INTAKE_PATH);
  const url = `${matrix.gateway.origin}${path}`;
  const request = assemble(matrix, {
    connection: spoil.connection ?? 'bank-beta',
    url: `${url}${spoil.query ?? ''}`,
    method,
    headers: {
      authorization: `${spoil.scheme ?? 'Bearer'} ${token}`,
      ...(method === 'POST' ? { 'content-type': 'application/xml', 'idempotency-key': randomUUID() } : {}),
    },
    spoilHeaders: spoil.headers,
    body: 'body' in spoil ? spoil.body : method === 'POST' ? freshPacs008('beta10').xml : undefined,
  });
  return { request, token, url };
}

function assemble(
  matrix: Matrix,
  parts: {
    connection: DevPartnerId | Agent;
    url: string;
    method: string;
    headers: Record<string, string | string[]>;
    spoilHeaders: Record<string, string | string[] | undefined> | undefined;
    body: string | undefined;
  },
): MatrixRequest {
  const request: MatrixRequest = {
    agent: typeof parts.connection === 'string' ? matrix.agents[parts.connection] : parts.connection,
    url: parts.url,
    method: parts.method,
    headers: parts.headers,
    ...(parts.body === undefined ? {} : { body: parts.body }),
  };
  return withHeaders(request, parts.spoilHeaders ?? {});
}

/** The same request with headers added, replaced or (value `undefined`) removed. */
export function withHeaders(request: MatrixRequest, changes: Record<string, string | string[] | undefined>): MatrixRequest {
  const headers: Record<string, string | string[]> = { ...request.headers };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete headers[name.toLowerCase()];
    else headers[name.toLowerCase()] = value;
  }
  return { ...request, headers };
}

export function partnerCertificatePem(matrix: Matrix, partner: DevPartnerId): string {
  const files = matrix.as.pki.partners[partner];
  if (files === undefined) throw new Error(`no dev PKI files for ${partner}`);
  return readFileSync(files.clientCert, 'utf8');
}

/**
 * bank-alpha's connection for requests with a spoofed `Host`: undici takes the TLS server name from the Host header,
 * so this agent still checks the gateway's certificate, but always for `localhost`, the name it really dialled.
 */
export function spoofedHostAgent(matrix: Matrix, partner: DevPartnerId): Agent {
  const files = matrix.as.pki.partners[partner];
  if (files === undefined) throw new Error(`no dev PKI files for ${partner}`);
  return matrix.track(
    new Agent({
      connect: {
        ca: readFileSync(matrix.as.pki.caCert, 'utf8'),
        cert: readFileSync(files.clientCert, 'utf8'),
        key: readFileSync(files.clientKey, 'utf8'),
        checkServerIdentity: (_servername, certificate) => checkServerIdentity('localhost', certificate),
      },
    }),
  );
}

/** Bounds a raw exchange, so a gateway that never answers fails the test instead of hanging it. */
const RAW_EXCHANGE_TIMEOUT_MS = 5000;

/**
 * A request written byte for byte over the partner's own mTLS connection, for request targets an HTTP client will
 * not produce (the absolute-form `POST https://evil.example/path HTTP/1.1`). `Connection: close` and
 * `Content-Length` are added; the answer is read until the gateway closes the connection. The socket is never
 * half-closed: the gateway would take that as the client leaving and not answer.
 */
export function sendRawTarget(
  matrix: Matrix,
  partner: DevPartnerId,
  request: { method: string; target: string; headers: Record<string, string>; body?: string },
): Promise<GatewayAnswer> {
  const files = matrix.as.pki.partners[partner];
  if (files === undefined) throw new Error(`no dev PKI files for ${partner}`);
  const body = Buffer.from(request.body ?? '', 'utf8');
  const head = [
    `${request.method} ${request.target} HTTP/1.1`,
    `host: ${new URL(matrix.gateway.origin).host}`,
    ...Object.entries(request.headers).map(([name, value]) => `${name}: ${value}`),
    `content-length: ${body.length}`,
    'connection: close',
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({
      host: '127.0.0.1',
      port: matrix.gateway.port,
      servername: 'localhost',
      ca: readFileSync(matrix.as.pki.caCert),
      cert: readFileSync(files.clientCert),
      key: readFileSync(files.clientKey),
    });
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${RAW_EXCHANGE_TIMEOUT_MS} ms`)), RAW_EXCHANGE_TIMEOUT_MS);
    socket.on('secureConnect', () => socket.write(Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), body])));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseHttpResponse(Buffer.concat(chunks)));
      } catch (error) {
        reject(error);
      }
    });
  });
}

function parseHttpResponse(raw: Buffer): GatewayAnswer {
  const split = raw.indexOf('\r\n\r\n');
  if (split === -1) throw new Error(`not an HTTP response: ${JSON.stringify(raw.subarray(0, 200).toString('latin1'))}`);
  const [statusLine = '', ...lines] = raw.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1]);
  const headers: Record<string, string | string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const seen = headers[name];
    headers[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  const body = raw.subarray(split + 4);
  return { status, headers, body: (headers['transfer-encoding'] === 'chunked' ? dechunk(body) : body).toString('utf8') };
}

/** HTTP/1.1 chunked transfer coding (RFC 9112 §7.1), without trailers. */
function dechunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    const size = Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** RFC 9440 §2: a certificate as a structured-field byte sequence, `:base64(DER):`. */
export function clientCertHeaderValue(pem: string): string {
  return `:${new X509Certificate(pem).raw.toString('base64')}:`;
}

/** A signing key of the authorization server other than ES256 (its kid and public JWK, no private part). */
export function authorizationServerPublicKey(matrix: Matrix, alg: 'PS256' | 'EdDSA'): JWK & { kid: string } {
  const { keys } = JSON.parse(readFileSync(matrix.as.pki.authzSigningKeys, 'utf8')) as { keys: JWK[] };
  const jwk = keys.find((candidate) => candidate.alg === alg);
  if (jwk?.kid === undefined) throw new Error(`no ${alg} key in the AS key set`);
  return { ...jwk, kid: jwk.kid };
}

export type ChallengeExpectation = 'DPoP' | 'Bearer' | 'both';

export interface RefusalExpectation {
  readonly status: number;
  /** The OAuth error code; omitted when the request carried no usable credentials (RFC 6750 §3.1). */
  readonly error?: string;
  /** Which challenge(s) `WWW-Authenticate` must carry. */
  readonly scheme: ChallengeExpectation;
  /** A fragment of `error_description`: pins the refusal to the check the test is about, not some other one. */
  readonly because?: string;
}

/**
 * A refusal as RFC 6750 §3 and RFC 9449 §7 describe it, and proof that nothing was processed: a JSON OAuth error
 * (never a pacs.002), `WWW-Authenticate` with the same code in the right scheme(s) (`algs` on DPoP challenges),
 * `Cache-Control: no-store`, a `Date`, and an `x-fapi-interaction-id`.
 *
 * "Nothing was processed" is asserted through the answer here (an OAuth error body instead of a status report);
 * `expectLedgerUntouched` checks the ledger itself.
 */
export function expectRefused(answer: GatewayAnswer, expected: RefusalExpectation): void {
  const context = `answer: ${answer.status} ${answer.body}`;
  expect(answer.status, context).toBe(expected.status);
  expect(String(answer.headers['content-type']), context).toMatch(/^application\/json\b/);
  expect(answer.body, context).not.toContain('FIToFIPmtStsRpt');
  const body = JSON.parse(answer.body) as { error?: unknown; error_description?: unknown };
  if (expected.error === undefined) expect(body, context).not.toHaveProperty('error');
  else expect(body.error, context).toBe(expected.error);
  expect(typeof body.error_description, context).toBe('string');
  if (expected.because !== undefined) expect(body.error_description, context).toContain(expected.because);

  expect(answer.headers['cache-control'], context).toBe('no-store');
  expect(Number.isNaN(Date.parse(String(answer.headers.date))), context).toBe(false);
  expect(String(answer.headers['x-fapi-interaction-id']), context).toMatch(UUID);

  const challenges = challengesOf(answer);
  const schemes = challenges.map((challenge) => challenge.split(' ')[0]);
  expect(schemes, context).toEqual(expected.scheme === 'both' ? ['DPoP', 'Bearer'] : [expected.scheme]);
  for (const challenge of challenges) {
    if (expected.error === undefined || expected.status >= 500) expect(challenge, context).not.toContain('error=');
    else expect(challenge, context).toContain(`error="${expected.error}"`);
    if (challenge.startsWith('DPoP')) expect(challenge, context).toContain(`algs="${FAPI_SIGNING_ALGORITHMS.join(' ')}"`);
    else expect(challenge, context).not.toContain('algs=');
  }
}

/** Row counts of everything a booked message writes. */
export async function ledgerSnapshot(matrix: Matrix): Promise<Record<string, number>> {
  const { rows } = await matrix.gateway.database.pool.query<Record<string, string>>(
    `select (select count(*) from messages) as messages, (select count(*) from payments) as payments,
            (select count(*) from journal_entries) as entries, (select count(*) from outbox) as outbox`,
  );
  return Object.fromEntries(Object.entries(rows[0]!).map(([table, count]) => [table, Number(count)]));
}

/** Nothing was booked since `before`: no message, payment, entry or outbox row. */
export async function expectLedgerUntouched(matrix: Matrix, before: Record<string, number>): Promise<void> {
  expect(await ledgerSnapshot(matrix)).toEqual(before);
}

/** The `WWW-Authenticate` challenges of an answer, one per header line. */
export function challengesOf(answer: GatewayAnswer): string[] {
  const value = answer.headers['www-authenticate'];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

export interface Pacs002Summary {
  readonly groupStatus: string;
  readonly transactionStatuses: string[];
  /** Status reason codes (`StsRsnInf/Rsn/Cd`) anywhere in the report. */
  readonly reasonCodes: string[];
  /** Status reason free text (`StsRsnInf/AddtlInf`) anywhere in the report. */
  readonly additionalInformation: string[];
}

export function readPacs002(xml: string): Pacs002Summary {
  const doc = XmlDocument.fromString(xml);
  try {
    const ns = { p: doc.root.namespaceUri };
    const texts = (xpath: string) => (doc.find(xpath, ns) as { content: string }[]).map((node) => node.content);
    return {
      groupStatus: String(doc.eval('string(//p:OrgnlGrpInfAndSts/p:GrpSts)', ns)),
      transactionStatuses: texts('//p:TxInfAndSts/p:TxSts'),
      reasonCodes: texts('//p:StsRsnInf/p:Rsn/p:Cd'),
      additionalInformation: texts('//p:StsRsnInf/p:AddtlInf'),
    };
  } finally {
    doc.dispose();
  }
}

/**
 * The intake booked the message: 200 and a pacs.002 whose group status is ACSC (settled on-us: bank-beta's
 * messages to bank-gamma) or ACSP (held for the onward leg: bank-alpha's messages to a non-participant).
 */
export function expectAccepted(answer: GatewayAnswer): void {
  const context = `answer: ${answer.status} ${answer.body.slice(0, 400)}`;
  expect(answer.status, context).toBe(200);
  expect(String(answer.headers['content-type']), context).toMatch(/^application\/xml\b/);
  expect(['ACSC', 'ACSP'], context).toContain(readPacs002(answer.body).groupStatus);
}
