/**
 * Who is calling? The resource-server half of FAPI 2.0 as one ordered list of named checks, read top to bottom:
 *
 *   credentialsNotInUri → clientCertificate → authorizationHeader → dpopHeader → accessToken → senderConstraint
 *   → dpopProof → partner → dpopReplay
 *
 * Each check either adds to the request's security context or returns the exact refusal RFC 6750 / RFC 9449 /
 * RFC 8705 prescribe. The replay claim comes last on purpose: only a caller who holds a valid token, a matching key
 * and a registered certificate can write into the shared replay store.
 */
import { timingSafeEqual } from 'node:crypto';

import type { Partner, PartnerRegistry } from '../partners/registry.ts';
import { AccessTokenError, type AccessTokenClaims, type AccessTokenVerifier } from './access-token.ts';
import { type AuthFailure, challengeOnly, isAuthFailure, refuse } from './auth-failure.ts';
import {
  type CertificateRequestView,
  ClientCertificateError,
  type ClientCertificateSource,
  type PresentedCertificate,
  presentedCertificate,
} from './client-certificate.ts';
import type { DpopNonces } from './dpop-nonce.ts';
import { DpopProofError, type VerifiedDpopProof, verifyDpopProof } from './dpop-proof.ts';
import type { SecurityLimits } from './limits.ts';
import { type ReplayStore, ReplayStoreUnavailable } from './replay-store.ts';

/** The framework-free view of a request that authentication needs. */
export interface AuthRequest extends CertificateRequestView {
  readonly method: string;
  /** The path as received, without the query (the DPoP htu is the external origin + this). */
  readonly path: string;
  /** The raw query string without `?` ('' when none). */
  readonly query: string;
  /** Node's `rawHeaders`: name/value pairs as received, so duplicated headers are seen, not merged or dropped. */
  readonly rawHeaders: readonly string[];
}

/** An authenticated caller: a registered partner holding a verified, sender-constrained token. */
export interface Caller {
  readonly partner: Partner;
  readonly clientId: string;
  readonly scopes: ReadonlySet<string>;
  readonly binding: 'dpop' | 'mtls';
  readonly scheme: 'DPoP' | 'Bearer';
  readonly certificateThumbprint: string;
  readonly tokenId: string;
  /** A fresher DPoP nonce to send back with the response, when nonces are in use. */
  readonly dpopNonce?: string;
}

export interface AuthenticatorOptions {
  /** The origin clients use to reach us (`https://gateway.example.com`), the base of every DPoP htu. */
  readonly externalOrigin: URL;
  readonly certificates: ClientCertificateSource;
  readonly verifyAccessToken: AccessTokenVerifier;
  readonly replayStore: ReplayStore;
  readonly registry: PartnerRegistry;
  /** Server-provided DPoP nonces (RFC 9449 §9); `required` makes every proof carry a current one. */
  readonly dpopNonces?: { readonly nonces: DpopNonces; readonly required: boolean } | undefined;
  readonly limits: SecurityLimits;
  /** Told of every proof refused as a replay (the operators' counter: a spike means stolen proofs or a buggy client). */
  readonly onDpopReplayRejected?: (() => void) | undefined;
}

export type Authenticator = (request: AuthRequest) => Promise<Caller | AuthFailure>;

interface Context {
  certificate?: PresentedCertificate;
  scheme?: 'DPoP' | 'Bearer';
  token?: string;
  dpopHeader?: string;
  claims?: AccessTokenClaims;
  proof?: VerifiedDpopProof;
  partner?: Partner;
  dpopNonce?: string;
}

type Check = (request: AuthRequest, context: Context) => Promise<AuthFailure | undefined> | AuthFailure | undefined;

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { limits } = options;

  const credentialsNotInUri: Check = (request) => {
    // RFC 6750 §2.3 and FAPI 2.0 §5.3.3: a token in the URI leaks into logs and Referer headers.
    const parameters = new URLSearchParams(request.query);
    if (parameters.has('access_token')) {
      return refuse('invalid_request', 'access tokens are accepted only in the Authorization header, never in the URI', 'both');
    }
    return undefined;
  };

  const clientCertificate: Check = (request, context) => {
    try {
      context.certificate = presentedCertificate(options.certificates, request);
      return undefined;
    } catch (error) {
      if (!(error instanceof ClientCertificateError)) throw error;
      return error.problem === 'forged-header'
        ? refuse('invalid_request', error.message, 'both')
        : refuse('invalid_token', `mutual TLS is required: ${error.message}`, 'both');
    }
  };

  const authorizationHeader: Check = (request, context) => {
    const values = headerValues(request.rawHeaders, 'authorization');
    if (values.length === 0) return challengeOnly('no access token: send Authorization: DPoP <token> or Bearer <token>');
    if (values.length > 1) return refuse('invalid_request', 'more than one Authorization header', 'both');
    const value = values[0]!;
    if (value.length > limits.authorizationHeaderBytesMax) {
      return refuse('invalid_request', `Authorization header longer than ${limits.authorizationHeaderBytesMax} bytes`, 'both');
    }
    const space = value.indexOf(' ');
    const scheme = (space === -1 ? value : value.slice(0, space)).toLowerCase();
    if (scheme !== 'dpop' && scheme !== 'bearer') {
      return challengeOnly(`unsupported authorization scheme; use DPoP or Bearer`);
    }
    context.scheme = scheme === 'dpop' ? 'DPoP' : 'Bearer';
    const token = space === -1 ? '' : value.slice(space + 1).trim();
    if (!TOKEN68.test(token)) return refuse('invalid_request', 'the Authorization header does not carry a token', context.scheme);
    context.token = token;
    return undefined;
  };

  const dpopHeader: Check = (request, context) => {
    const values = headerValues(request.rawHeaders, 'dpop');
    // RFC 9449 §4.3 check 1: not more than one DPoP header.
    if (values.length > 1) return refuse('invalid_dpop_proof', 'more than one DPoP header', 'DPoP');
    if (values[0] !== undefined && values[0].length > limits.dpopHeaderBytesMax) {
      return refuse('invalid_dpop_proof', `DPoP header longer than ${limits.dpopHeaderBytesMax} bytes`, 'DPoP');
    }
    if (values[0] !== undefined) context.dpopHeader = values[0];
    return undefined;
  };

  const accessToken: Check = async (request, context) => {
    try {
      context.claims = await options.verifyAccessToken(context.token!, request.now);
      return undefined;
    } catch (error) {
      if (!(error instanceof AccessTokenError)) throw error;
      if (error.unavailable) {
        return refuse('temporarily_unavailable', 'cannot verify access tokens right now', context.scheme!, { retryAfterSeconds: 5 });
      }
      return refuse('invalid_token', error.message, context.scheme!);
    }
  };

  const senderConstraint: Check = (_request, context) => {
    const claims = context.claims!;
    if (claims.jkt !== undefined) {
      // RFC 9449 §7.2: a DPoP-bound token presented as a Bearer token is a downgrade; refuse it.
      if (context.scheme !== 'DPoP') return refuse('invalid_token', 'a DPoP-bound access token must be sent with the DPoP scheme', 'DPoP');
      if (context.dpopHeader === undefined) return refuse('invalid_dpop_proof', 'a DPoP proof is required with a DPoP-bound token', 'DPoP');
    } else if (context.scheme === 'DPoP') {
      return refuse('invalid_token', 'the access token is not DPoP-bound; send it with the Bearer scheme', 'DPoP');
    }
    if (claims.x5tS256 !== undefined && !sameText(claims.x5tS256, context.certificate!.x5tS256)) {
      // RFC 8705 §3: the presented certificate must be the one the token was bound to.
      return refuse('invalid_token', 'the client certificate does not match the certificate the token is bound to', context.scheme!);
    }
    return undefined;
  };

  const dpopProof: Check = async (request, context) => {
    if (context.claims!.jkt === undefined) return undefined;
    try {
      context.proof = await verifyDpopProof(
        {
          proof: context.dpopHeader!,
          method: request.method.toUpperCase(),
          uri: requestUri(options.externalOrigin, request.path),
          accessToken: context.token!,
          now: request.now,
        },
        limits,
      );
    } catch (error) {
      if (!(error instanceof DpopProofError)) throw error;
      return refuse('invalid_dpop_proof', error.message, 'DPoP');
    }
    if (options.dpopNonces !== undefined) {
      const { nonces, required } = options.dpopNonces;
      const current = nonces.current(request.now);
      const presented = context.proof.nonce;
      if (presented !== undefined ? !nonces.accepts(presented, request.now) : required) {
        return refuse('use_dpop_nonce', presented === undefined ? 'a DPoP nonce is required' : 'the DPoP nonce is stale', 'DPoP', { dpopNonce: current });
      }
      if (presented !== current) context.dpopNonce = current;
    }
    // RFC 9449 §4.3 check 12 / §7.1: the proof key must be the key the token is bound to.
    if (!sameText(context.proof.jkt, context.claims!.jkt!)) {
      return refuse('invalid_token', 'the DPoP proof key is not the key the access token is bound to', 'DPoP');
    }
    return undefined;
  };

  const partner: Check = (_request, context) => {
    const claims = context.claims!;
    const registered = options.registry.byClientId(claims.clientId);
    if (registered === undefined) return refuse('invalid_token', 'the access token was issued to an unknown client', context.scheme!);
    const holder = options.registry.byCertificateSubject(context.certificate!.certificate.subject);
    // Even a DPoP-bound token must come over its own partner's mTLS connection: one bank's channel never carries
    // another bank's payments.
    if (holder?.clientId !== registered.clientId) {
      return refuse('invalid_token', 'the client certificate belongs to a different partner than the access token', context.scheme!);
    }
    if (registered.tokenBinding === 'mtls' && claims.x5tS256 === undefined) {
      return refuse('invalid_token', 'this partner must use certificate-bound access tokens', context.scheme!);
    }
    context.partner = registered;
    return undefined;
  };

  const dpopReplay: Check = async (_request, context) => {
    if (context.proof === undefined) return undefined;
    try {
      const first = await options.replayStore.claimOnce(`dpop:${context.proof.jkt}:${context.proof.jti}`, limits.dpopJtiRetentionSeconds);
      if (first) return undefined;
      options.onDpopReplayRejected?.();
      return refuse('invalid_dpop_proof', 'the DPoP proof has been used before (jti replay)', 'DPoP');
    } catch (error) {
      if (!(error instanceof ReplayStoreUnavailable)) throw error;
      // Fail closed: without the replay store we cannot tell a replay from a first use.
      return refuse('temporarily_unavailable', 'cannot check DPoP proofs for replay right now', 'DPoP', { retryAfterSeconds: 1 });
    }
  };

  const CHECKS: readonly Check[] = [
    credentialsNotInUri,
    clientCertificate,
    authorizationHeader,
    dpopHeader,
    accessToken,
    senderConstraint,
    dpopProof,
    partner,
    dpopReplay,
  ];

  return async (request) => {
    const context: Context = {};
    for (const check of CHECKS) {
      const failure = await check(request, context);
      if (isAuthFailure(failure)) return failure;
    }
    const claims = context.claims!;
    return {
      partner: context.partner!,
      clientId: claims.clientId,
      scopes: claims.scopes,
      binding: claims.jkt !== undefined ? 'dpop' : 'mtls',
      scheme: context.scheme!,
      certificateThumbprint: context.certificate!.x5tS256,
      tokenId: claims.jti,
      ...(context.dpopNonce !== undefined ? { dpopNonce: context.dpopNonce } : {}),
    };
  };
}

/** 403 insufficient_scope unless the caller's token carries `scope` (RFC 6750 §3.1). */
export function requireScope(caller: Caller, scope: string): AuthFailure | undefined {
  if (caller.scopes.has(scope)) return undefined;
  return refuse('insufficient_scope', `this resource requires the ${scope} scope`, caller.scheme, { requiredScope: scope });
}

function headerValues(rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === name) values.push(rawHeaders[i + 1]!);
  }
  return values;
}

/**
 * The external origin with the request's path: the URI a DPoP proof's htu must name. The path is appended, never
 * resolved: `new URL(path, origin)` would let an absolute-form request target (`GET https://evil.example/x`, which
 * Fastify routes like `/x`) or a `//evil.example/x` path replace our origin with one the client chose.
 */
function requestUri(externalOrigin: URL, path: string): URL {
  const uri = new URL(externalOrigin.origin);
  uri.pathname = path;
  return uri;
}

/** Constant-time equality for thumbprints (RFC 8705 §3: compare without leaking where they differ). */
function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
