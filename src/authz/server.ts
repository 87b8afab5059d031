/**
 * The authorization server as a process concern: two HTTPS listeners in front of one oidc-provider.
 *
 * Why two: RFC 8705 §5 "mTLS endpoint aliases". A TLS server either asks every client for a certificate or none.
 * Partners that authenticate with private_key_jwt and bind tokens with DPoP have no business being asked for a
 * certificate, and discovery and JWKS must stay fetchable by anyone (the gateway, monitoring) over plain TLS. So
 *   (a) the issuer listener — TLS 1.3, no certificate requested — serves discovery, the JWKS and the token endpoint;
 *   (b) the mTLS alias listener — TLS 1.3, a certificate from the partner CA required in the handshake — serves
 *       only the token endpoint, for tls_client_auth and certificate-bound tokens.
 * Discovery advertises (b) as `mtls_endpoint_aliases.token_endpoint`, and clients that use mTLS go there.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

import type Provider from 'oidc-provider';

import { type AuthorizationServerProviderOptions, buildProvider } from './provider.ts';

export const AUTHZ_TLS_MIN_VERSION = 'TLSv1.3';
/** Bounds on slow or idle clients; a token request is one small POST. */
export const AUTHZ_REQUEST_TIMEOUT_MS = 10_000;
export const AUTHZ_HEADERS_TIMEOUT_MS = 5_000;
export const AUTHZ_KEEP_ALIVE_TIMEOUT_MS = 5_000;
export const AUTHZ_HEADER_BYTES_MAX = 16 * 1024;
export const AUTHZ_CONNECTIONS_MAX = 1_000;
/** The host the listeners bind to unless told otherwise; the demo and the tests stay on loopback. */
export const AUTHZ_DEFAULT_HOST = '127.0.0.1';

/** The provider's own options, minus what the listeners decide (issuer and alias origin come from bound ports). */
type ProviderInputs = Omit<AuthorizationServerProviderOptions, 'issuer' | 'mtlsAliasOrigin' | 'isMtlsConnection'>;

export interface AuthorizationServerOptions extends ProviderInputs {
  readonly tls: {
    /** PEM files: the server certificate (chain) and key, and the CA partners' client certificates must chain to. */
    readonly certFile: string;
    readonly keyFile: string;
    readonly clientCaFile: string;
  };
  readonly host?: string;
  /** 0 picks a free port. */
  readonly issuerPort: number;
  readonly mtlsPort: number;
  /** Host name used in the issuer and alias URLs built from the bound ports; must be covered by the certificate. */
  readonly publicHostname?: string;
  /**
   * The public URLs, when several instances sit behind one address (a load balancer): all of them must announce the
   * same issuer, since client assertions are addressed to it. Default: built from publicHostname and the bound ports.
   */
  readonly issuer?: string;
  readonly mtlsOrigin?: string;
  /** Errors that end in `server_error`; the default writes them to stderr. */
  readonly onServerError?: (error: unknown) => void;
}

export interface RunningAuthorizationServer {
  /** `https://<publicHostname>:<issuer port>` unless given. */
  readonly issuer: string;
  /** `https://<publicHostname>:<mTLS port>` unless given; the token endpoint alias is `${mtlsOrigin}/token`. */
  readonly mtlsOrigin: string;
  /** Where this instance actually listens (differs from issuer / mtlsOrigin only when those were given). */
  readonly issuerListenerOrigin: string;
  readonly mtlsListenerOrigin: string;
  readonly provider: Provider;
  /** Stops both listeners. The Redis client (or adapter) belongs to the caller and is left open. */
  close(): Promise<void>;
}

export async function startAuthorizationServer(options: AuthorizationServerOptions): Promise<RunningAuthorizationServer> {
  const [cert, key, clientCa] = await Promise.all([
    readFile(options.tls.certFile, 'utf8'),
    readFile(options.tls.keyFile, 'utf8'),
    readFile(options.tls.clientCaFile, 'utf8'),
  ]);
  const host = options.host ?? AUTHZ_DEFAULT_HOST;
  const publicHostname = options.publicHostname ?? 'localhost';

  const issuerListener = createServer({
    cert,
    key,
    minVersion: AUTHZ_TLS_MIN_VERSION,
    requestCert: false,
    ...httpLimits,
  });
  const mtlsListener = createServer({
    cert,
    key,
    minVersion: AUTHZ_TLS_MIN_VERSION,
    // The handshake itself refuses a missing certificate or one that does not chain to the partner CA.
    requestCert: true,
    rejectUnauthorized: true,
    ca: clientCa,
    ...httpLimits,
  });
  // Remember which sockets came in through the mTLS listener: only their certificates count (see client-certificate.ts).
  const mtlsSockets = new WeakSet<Socket>();
  mtlsListener.on('secureConnection', (socket: TLSSocket) => mtlsSockets.add(socket));
  for (const listener of [issuerListener, mtlsListener]) listener.maxConnections = AUTHZ_CONNECTIONS_MAX;

  try {
    const issuerPort = await listen(issuerListener, host, options.issuerPort);
    const mtlsPort = await listen(mtlsListener, host, options.mtlsPort);
    const issuer = options.issuer ?? `https://${publicHostname}:${issuerPort}`;
    const mtlsOrigin = options.mtlsOrigin ?? `https://${publicHostname}:${mtlsPort}`;

    const provider = await buildProvider({
      issuer,
      registry: options.registry,
      signingKeys: options.signingKeys,
      cookieKeys: options.cookieKeys,
      dpopNonceSecret: options.dpopNonceSecret,
      requireDpopNonce: options.requireDpopNonce,
      redis: options.redis,
      keyPrefix: options.keyPrefix,
      adapter: options.adapter,
      gatewayAudience: options.gatewayAudience,
      accessTokenTtlSeconds: options.accessTokenTtlSeconds,
      mtlsAliasOrigin: mtlsOrigin,
      isMtlsConnection: (socket) => mtlsSockets.has(socket),
    });
    const onServerError = options.onServerError ?? ((error: unknown) => console.error('authorization server error', error));
    provider.on('server_error', (_ctx: unknown, error: unknown) => onServerError(error));

    const handler = provider.callback();
    issuerListener.on('request', handler);
    mtlsListener.on('request', handler);

    return {
      issuer,
      mtlsOrigin,
      issuerListenerOrigin: `https://${publicHostname}:${issuerPort}`,
      mtlsListenerOrigin: `https://${publicHostname}:${mtlsPort}`,
      provider,
      close: async () => {
        await Promise.all([closeListener(issuerListener), closeListener(mtlsListener)]);
      },
    };
  } catch (error) {
    await Promise.all([closeListener(issuerListener), closeListener(mtlsListener)]);
    throw error;
  }
}

const httpLimits = {
  requestTimeout: AUTHZ_REQUEST_TIMEOUT_MS,
  headersTimeout: AUTHZ_HEADERS_TIMEOUT_MS,
  keepAliveTimeout: AUTHZ_KEEP_ALIVE_TIMEOUT_MS,
  maxHeaderSize: AUTHZ_HEADER_BYTES_MAX,
};

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeListener(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Keep-alive connections would hold close() open until they time out.
    server.closeAllConnections();
  });
}
