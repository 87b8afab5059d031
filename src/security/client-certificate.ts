/**
 * Which client certificate does this request come with?
 *
 * Direct mode (the default): the TLS listener demands a certificate and verifies it against our CA during the
 * handshake (`requestCert` + `rejectUnauthorized`), so only mutual-TLS connections exist; we read the verified
 * certificate from the socket. Any certificate-carrying header is then a forgery attempt and is refused: only a
 * proxy we trust may speak for the TLS layer.
 *
 * Proxy mode: a TLS-terminating proxy in front of us forwards the client's certificate in one configured header
 * (RFC 9440 `Client-Cert`, a structured-field byte sequence `:base64(DER):`). We accept that header only from the
 * configured proxy addresses, and verify the certificate against our CA ourselves — the header is a claim, not
 * proof, until its signature chains to the CA.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

export type ClientCertificateSource =
  | { readonly mode: 'tls' }
  | {
      readonly mode: 'proxy-header';
      /** Lower-case header name, e.g. `client-cert` (RFC 9440). */
      readonly header: string;
      /** Socket addresses of the proxies allowed to send that header. */
      readonly trustedProxies: readonly string[];
      /** The CA the forwarded certificates must chain to (one level: partner certs are issued by it directly). */
      readonly ca: X509Certificate;
    };

/** Headers that, in some proxy or other, carry a client certificate; refused from anyone but a trusted proxy. */
export const CERTIFICATE_HEADERS = [
  'client-cert',
  'client-cert-chain',
  'x-client-cert',
  'x-ssl-client-cert',
  'ssl-client-cert',
  'x-forwarded-client-cert',
  'x-arr-clientcert',
] as const;

export interface PresentedCertificate {
  readonly certificate: X509Certificate;
  /** base64url SHA-256 of the DER, as in cnf.x5t#S256 (RFC 8705 §3.1). */
  readonly x5tS256: string;
}

export type CertificateProblem = 'forged-header' | 'missing' | 'untrusted';
export class ClientCertificateError extends Error {
  override readonly name = 'ClientCertificateError';
  readonly problem: CertificateProblem;
  constructor(problem: CertificateProblem, message: string) {
    super(message);
    this.problem = problem;
  }
}

/** Header bytes a forwarded certificate may take (a P-256 leaf is ~600 bytes DER, ~850 base64). */
const FORWARDED_CERTIFICATE_BYTES_MAX = 8192;
const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';
/**
 * A connection's certificate cannot change after its handshake (TLS 1.3 has no renegotiation), so keep-alive
 * requests reuse the parsed certificate and its thumbprint instead of re-reading and re-hashing them every time.
 */
const perConnection = new WeakMap<TLSSocket, PresentedCertificate>();

export interface CertificateRequestView {
  readonly socket: TLSSocket | { readonly remoteAddress?: string | undefined };
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly now: Date;
}

export function presentedCertificate(source: ClientCertificateSource, request: CertificateRequestView): PresentedCertificate {
  const remote = request.socket.remoteAddress ?? '';
  if (source.mode === 'tls') {
    const forged = CERTIFICATE_HEADERS.find((name) => request.headers[name] !== undefined);
    if (forged !== undefined) {
      throw new ClientCertificateError('forged-header', `the ${forged} header is accepted only from a configured TLS-terminating proxy`);
    }
    const socket = request.socket as TLSSocket;
    if (typeof socket.getPeerX509Certificate !== 'function' || socket.authorized !== true) {
      throw new ClientCertificateError('untrusted', 'the connection did not present a client certificate issued by our CA');
    }
    const known = perConnection.get(socket);
    if (known !== undefined) return known;
    const certificate = socket.getPeerX509Certificate();
    if (certificate === undefined) throw new ClientCertificateError('missing', 'no client certificate on this connection');
    const presented = { certificate, x5tS256: thumbprint(certificate) };
    perConnection.set(socket, presented);
    return presented;
  }

  const fromProxy = source.trustedProxies.includes(normaliseAddress(remote));
  const others = CERTIFICATE_HEADERS.filter((name) => name !== source.header && request.headers[name] !== undefined);
  if (!fromProxy && (request.headers[source.header] !== undefined || others.length > 0)) {
    throw new ClientCertificateError('forged-header', `the ${others[0] ?? source.header} header is accepted only from a configured TLS-terminating proxy`);
  }
  if (!fromProxy) throw new ClientCertificateError('missing', 'requests must arrive through the TLS-terminating proxy');
  if (others.length > 0) throw new ClientCertificateError('forged-header', `unexpected certificate header ${others[0]}`);
  const value = request.headers[source.header];
  if (value === undefined) throw new ClientCertificateError('missing', 'the proxy forwarded no client certificate');
  if (Array.isArray(value) || value.length > FORWARDED_CERTIFICATE_BYTES_MAX) {
    throw new ClientCertificateError('untrusted', `the ${source.header} header must be one certificate`);
  }
  const match = /^:([A-Za-z0-9+/]+={0,2}):$/.exec(value.trim());
  if (match === null) throw new ClientCertificateError('untrusted', `the ${source.header} header is not an RFC 9440 byte sequence`);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(Buffer.from(match[1]!, 'base64'));
  } catch {
    throw new ClientCertificateError('untrusted', `the ${source.header} header does not hold an X.509 certificate`);
  }
  if (!certificate.checkIssued(source.ca) || !certificate.verify(source.ca.publicKey)) {
    throw new ClientCertificateError('untrusted', 'the forwarded certificate was not issued by our CA');
  }
  const now = request.now.getTime();
  if (now < Date.parse(certificate.validFrom) || now > Date.parse(certificate.validTo)) {
    throw new ClientCertificateError('untrusted', 'the forwarded certificate is expired or not yet valid');
  }
  if (certificate.keyUsage !== undefined && !certificate.keyUsage.includes(CLIENT_AUTH_EKU)) {
    throw new ClientCertificateError('untrusted', 'the forwarded certificate is not for client authentication');
  }
  return { certificate, x5tS256: thumbprint(certificate) };
}

export function thumbprint(certificate: X509Certificate): string {
  return createHash('sha256').update(certificate.raw).digest('base64url');
}

/** `::ffff:127.0.0.1` and `127.0.0.1` are the same peer. */
function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}
