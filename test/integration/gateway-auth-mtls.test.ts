/**
 * Mutual TLS: certificate-bound access tokens (RFC 8705 §3), the partner behind the connection, the TLS handshake
 * as the first gate (only TLS 1.3, only certificates from our CA), and proxy mode, where a TLS-terminating proxy
 * forwards the client certificate in an RFC 9440 `Client-Cert` header.
 *
 * Every refusal starts from a request that succeeds — `validCertificateBoundRequest` (bank-beta, its own connection,
 * a Bearer token bound to its certificate) or `validDpopRequest` (bank-alpha) — and changes one thing.
 *
 * Nothing refused here may be processed. The ledger does not exist yet, so `expectRefused` proves it through the
 * answer (an OAuth error in JSON, never a pacs.002), and a refused handshake by the absence of any HTTP answer; the
 * lead adds a ledger assertion once postings exist.
 */
import { readFileSync } from 'node:fs';
import { connect, type ConnectionOptions } from 'node:tls';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type CertificateAndKey, createCertificateAuthority, issueCertificate } from '../../src/certs/dev-pki.ts';
import {
  clientCertHeaderValue,
  expectAccepted,
  expectRefused,
  type Matrix,
  type MatrixRequest,
  partnerCertificatePem,
  readPacs002,
  sendMatrix,
  startMatrix,
  validCertificateBoundRequest,
  validDpopRequest,
} from '../support/auth-matrix.ts';
import { partnerAgent, startTestGateway, type TestGateway } from '../support/gateway.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** bank-beta's registered certificate subject: a stranger's certificate claims to be bank-beta. */
const BETA_SUBJECT = 'CN=bank-beta,O=Beta Bank AG,C=DE';

let matrix: Matrix;
/** A certificate with bank-beta's subject from a CA we do not trust. */
let rogueBeta: CertificateAndKey;
/** A certificate with bank-beta's subject from our own CA, expired yesterday. */
let expiredBeta: CertificateAndKey;

beforeAll(async () => {
  matrix = await startMatrix();
  const now = Date.now();
  const rogueCa = await createCertificateAuthority({ subject: 'CN=Rogue CA', notBefore: new Date(now - DAY_MS), notAfter: new Date(now + DAY_MS) });
  rogueBeta = await issueCertificate({
    issuer: rogueCa,
    subject: BETA_SUBJECT,
    kind: 'client',
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + DAY_MS),
  });
  const ourCa = { cert: readFileSync(matrix.as.pki.caCert, 'utf8'), key: readFileSync(matrix.as.pki.caKey, 'utf8') };
  expiredBeta = await issueCertificate({
    issuer: ourCa,
    subject: BETA_SUBJECT,
    kind: 'client',
    notBefore: new Date(now - 2 * DAY_MS),
    notAfter: new Date(now - DAY_MS),
  });
});

afterAll(async () => {
  await matrix?.close();
});

describe('RFC 8705 §3: certificate-bound access tokens over direct mutual TLS', () => {
  it('accepts bank-beta’s certificate-bound token, sent as Bearer over bank-beta’s own connection (positive control)', async () => {
    const { request } = await validCertificateBoundRequest(matrix);
    const answer = await sendMatrix(request);
    expectAccepted(answer);
    expect(readPacs002(answer.body).transactionStatuses).toEqual(Array.from({ length: 10 }, () => 'ACSC'));
  });

  it('refuses bank-beta’s certificate-bound token over bank-alpha’s connection with 401 invalid_token', async () => {
    const { request } = await validCertificateBoundRequest(matrix, { connection: 'bank-alpha' });
    expectRefused(await sendMatrix(request), {
      status: 401,
      error: 'invalid_token',
      scheme: 'Bearer',
      because: 'does not match the certificate the token is bound to',
    });
  });

  it('refuses a bank-beta token bound to another certificate over bank-beta’s connection with 401 invalid_token', async () => {
    const { request } = await validCertificateBoundRequest(matrix, { boundTo: partnerCertificatePem(matrix, 'bank-alpha') });
    expectRefused(await sendMatrix(request), {
      status: 401,
      error: 'invalid_token',
      scheme: 'Bearer',
      because: 'does not match the certificate the token is bound to',
    });
  });

  it('refuses bank-alpha’s DPoP-bound token over bank-beta’s connection: the channel belongs to another partner', async () => {
    const { request } = await validDpopRequest(matrix, { connection: 'bank-beta' });
    expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_token', scheme: 'DPoP', because: 'belongs to a different partner' });
  });

  it('refuses a DPoP-bound token for bank-beta, which is registered for certificate-bound tokens only', async () => {
    const { request } = await validDpopRequest(matrix, { partner: 'bank-beta' });
    expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_token', scheme: 'DPoP', because: 'must use certificate-bound' });
  });

  it('refuses a client-cert header on a direct connection with 400 invalid_request, even carrying the caller’s own certificate', async () => {
    const { request } = await validCertificateBoundRequest(matrix, {
      headers: { 'client-cert': clientCertHeaderValue(partnerCertificatePem(matrix, 'bank-beta')) },
    });
    expectRefused(await sendMatrix(request), { status: 400, error: 'invalid_request', scheme: 'both', because: 'client-cert header' });
  });

  it('refuses an x-ssl-client-cert header on a direct connection with 400 invalid_request', async () => {
    const { request } = await validCertificateBoundRequest(matrix, {
      headers: { 'x-ssl-client-cert': encodeURIComponent(partnerCertificatePem(matrix, 'bank-beta')) },
    });
    expectRefused(await sendMatrix(request), { status: 400, error: 'invalid_request', scheme: 'both', because: 'x-ssl-client-cert header' });
  });
});

describe('TLS: the handshake is the first gate (direct mode)', () => {
  it('refuses a connection without a client certificate: no HTTP answer at all', async () => {
    const { request } = await validCertificateBoundRequest(matrix, { connection: matrix.track(partnerAgent(matrix.as, null)) });
    await expectNoHttpAnswer(request);
  });

  it('ends a TLS 1.3 handshake without a client certificate with the certificate_required alert', async () => {
    const outcome = await tlsExchange(matrix.gateway, {});
    expect(outcome).toMatchObject({ errorCode: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', httpAnswer: '' });
  });

  it('refuses a connection whose client certificate comes from an untrusted CA, though the token is bound to it', async () => {
    const { request } = await validCertificateBoundRequest(matrix, {
      connection: matrix.track(partnerAgent(matrix.as, rogueBeta)),
      boundTo: rogueBeta.cert,
    });
    await expectNoHttpAnswer(request);
  });

  it('refuses a connection whose client certificate from our CA has expired, though the token is bound to it', async () => {
    const { request } = await validCertificateBoundRequest(matrix, {
      connection: matrix.track(partnerAgent(matrix.as, expiredBeta)),
      boundTo: expiredBeta.cert,
    });
    await expectNoHttpAnswer(request);
  });

  it('completes a TLS 1.3 handshake with bank-beta’s certificate (control for the version test)', async () => {
    const outcome = await tlsExchange(matrix.gateway, betaCredentials(), 'TLSv1.3');
    expect(outcome.protocol).toBe('TLSv1.3');
    expect(outcome.httpAnswer).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('refuses a TLS 1.2 handshake with a protocol_version alert, valid certificate or not', async () => {
    const outcome = await tlsExchange(matrix.gateway, betaCredentials(), 'TLSv1.2');
    expect(outcome).toMatchObject({ errorCode: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', protocol: undefined, httpAnswer: '' });
  });
});

describe('TLS 1.2, when an operator allows it, only with the BCP 195 (RFC 9325) AEAD suites', () => {
  let tls12: TestGateway;

  beforeAll(async () => {
    tls12 = matrix.track(await startTestGateway(matrix.as, { tls: { ...matrix.gateway.config.tls, minVersion: 'TLSv1.2' } }));
  });

  it('completes a TLS 1.2 handshake with ECDHE-ECDSA-AES128-GCM-SHA256', async () => {
    const outcome = await tlsExchange(tls12, { ...betaCredentials(), ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }, 'TLSv1.2');
    expect(outcome.protocol).toBe('TLSv1.2');
    expect(outcome.httpAnswer).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('refuses a TLS 1.2 client that offers only CBC suites', async () => {
    const outcome = await tlsExchange(tls12, { ...betaCredentials(), ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA' }, 'TLSv1.2');
    expect(outcome.protocol).toBeUndefined();
    expect(outcome.errorCode).toMatch(/HANDSHAKE_FAILURE|NO_SHARED_CIPHER|ECONNRESET/);
  });
});

describe('RFC 9440: a TLS-terminating proxy forwards the client certificate (proxy mode)', () => {
  let proxied: Matrix;
  let distrusting: Matrix;
  /** The proxy's own connection to the gateway: the gateway does not ask it for a certificate. */
  let proxyConnection: ReturnType<typeof partnerAgent>;

  beforeAll(async () => {
    const proxyGateway = matrix.track(
      await startTestGateway(matrix.as, { clientCertificate: { source: 'proxy-header', header: 'client-cert', trustedProxies: ['127.0.0.1'] } }),
    );
    const elsewhereGateway = matrix.track(
      await startTestGateway(matrix.as, { clientCertificate: { source: 'proxy-header', header: 'client-cert', trustedProxies: ['10.9.9.9'] } }),
    );
    proxied = { ...matrix, gateway: proxyGateway };
    distrusting = { ...matrix, gateway: elsewhereGateway };
    proxyConnection = matrix.track(partnerAgent(matrix.as, null));
  });

  it('accepts bank-beta’s certificate forwarded as Client-Cert by a trusted proxy, with bank-beta’s bound token (positive control)', async () => {
    const { request } = await validCertificateBoundRequest(proxied, {
      connection: proxyConnection,
      headers: { 'client-cert': clientCertHeaderValue(partnerCertificatePem(matrix, 'bank-beta')) },
    });
    expectAccepted(await sendMatrix(request));
  });

  it('refuses a forwarded certificate from an untrusted CA, though the token is bound to it, with 401 invalid_token', async () => {
    const { request } = await validCertificateBoundRequest(proxied, {
      connection: proxyConnection,
      boundTo: rogueBeta.cert,
      headers: { 'client-cert': clientCertHeaderValue(rogueBeta.cert) },
    });
    expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_token', scheme: 'both', because: 'not issued by our CA' });
  });

  it('refuses a forwarded certificate from our CA that has expired, though the token is bound to it, with 401 invalid_token', async () => {
    const { request } = await validCertificateBoundRequest(proxied, {
      connection: proxyConnection,
      boundTo: expiredBeta.cert,
      headers: { 'client-cert': clientCertHeaderValue(expiredBeta.cert) },
    });
    expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_token', scheme: 'both', because: 'expired' });
  });

  it('refuses a request from the trusted proxy that forwards no certificate with 401 invalid_token', async () => {
    const { request } = await validCertificateBoundRequest(proxied, { connection: proxyConnection });
    expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_token', scheme: 'both', because: 'forwarded no client certificate' });
  });

  it('refuses a Client-Cert header that is not an RFC 9440 byte sequence with 401 invalid_token', async () => {
    const { request } = await validCertificateBoundRequest(proxied, {
      connection: proxyConnection,
      headers: { 'client-cert': partnerCertificatePem(matrix, 'bank-beta').replace(/\s+/g, ' ') },
    });
    expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_token', scheme: 'both', because: 'byte sequence' });
  });

  it('refuses a second certificate header next to Client-Cert from the trusted proxy with 400 invalid_request', async () => {
    const { request } = await validCertificateBoundRequest(proxied, {
      connection: proxyConnection,
      headers: {
        'client-cert': clientCertHeaderValue(partnerCertificatePem(matrix, 'bank-beta')),
        'x-ssl-client-cert': encodeURIComponent(partnerCertificatePem(matrix, 'bank-alpha')),
      },
    });
    expectRefused(await sendMatrix(request), { status: 400, error: 'invalid_request', scheme: 'both', because: 'x-ssl-client-cert' });
  });

  it('refuses Client-Cert from an address that is not a configured proxy with 400 invalid_request', async () => {
    const { request } = await validCertificateBoundRequest(distrusting, {
      connection: proxyConnection,
      headers: { 'client-cert': clientCertHeaderValue(partnerCertificatePem(matrix, 'bank-beta')) },
    });
    expectRefused(await sendMatrix(request), { status: 400, error: 'invalid_request', scheme: 'both', because: 'only from a configured TLS-terminating proxy' });
  });
});

function betaCredentials(): ConnectionOptions {
  const files = matrix.as.pki.partners['bank-beta']!;
  return { cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey) };
}

/** Transport-level failures: the connection ended before any HTTP response. */
const NO_ANSWER_CODES = ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'];

async function expectNoHttpAnswer(request: MatrixRequest): Promise<void> {
  const outcome = await sendMatrix(request).then(
    (answer) => ({ status: answer.status, code: undefined }),
    (error: unknown) => ({ status: undefined, code: (error as { code?: string }).code }),
  );
  expect(outcome.status, 'an HTTP status means the handshake let the request through').toBeUndefined();
  expect(NO_ANSWER_CODES).toContain(outcome.code);
}

/** Bounds a raw TLS exchange, so a server that never answers fails the test instead of hanging it. */
const TLS_EXCHANGE_TIMEOUT_MS = 5000;

/**
 * A raw TLS connection to the gateway: the handshake with the given credentials and version cap, then one
 * `GET /health/live`. Reports the negotiated protocol, the error that ended the connection, and any HTTP bytes.
 */
function tlsExchange(
  gateway: TestGateway,
  credentials: ConnectionOptions,
  maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3',
): Promise<{ protocol: string | undefined; errorCode: string | undefined; httpAnswer: string }> {
  return new Promise((resolve) => {
    let protocol: string | undefined;
    let errorCode: string | undefined;
    let httpAnswer = '';
    const socket = connect({
      host: '127.0.0.1',
      port: gateway.port,
      servername: 'localhost',
      ca: readFileSync(matrix.as.pki.caCert),
      maxVersion,
      ...credentials,
    });
    const timer = setTimeout(() => socket.destroy(), TLS_EXCHANGE_TIMEOUT_MS);
    socket.on('secureConnect', () => {
      protocol = socket.getProtocol() ?? undefined;
      socket.write('GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    socket.on('data', (chunk: Buffer) => {
      httpAnswer += chunk.toString('latin1');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      errorCode ??= error.code;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ protocol, errorCode, httpAnswer });
    });
  });
}
