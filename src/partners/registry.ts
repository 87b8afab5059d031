/**
 * The partner registry: who may talk to the gateway, how they authenticate at the authorization server, how their
 * tokens are bound, which BICs they may send for and which scopes they may ask for.
 *
 * One file feeds both trust boundaries: the authorization server turns each partner into an oidc-provider client,
 * the gateway maps a verified client certificate and a token's `client_id` back to the same partner. The file is
 * validated once at boot; any mistake is reported with the JSON path of the offending value, and the result is
 * frozen.
 */
import { readFileSync } from 'node:fs';

import { canonicalDn } from './distinguished-name.ts';

export const PARTNER_SCOPES = ['payments:write', 'payments:read'] as const;
export type PartnerScope = (typeof PARTNER_SCOPES)[number];

/** The only JWS algorithms FAPI 2.0 lets us use (RS256 and every HMAC are forbidden). */
export const FAPI_SIGNING_ALGORITHMS = ['PS256', 'ES256', 'EdDSA'] as const;
export type FapiSigningAlgorithm = (typeof FAPI_SIGNING_ALGORITHMS)[number];

/** How a partner's access tokens are sender-constrained (FAPI 2.0 requires one of the two). */
export type TokenBinding = 'dpop' | 'mtls';

export type TokenEndpointAuth =
  | { readonly method: 'private_key_jwt'; readonly jwks: { readonly keys: readonly JsonWebKeyPublic[] } }
  | { readonly method: 'tls_client_auth' };

/** A public JWK as registered (no private members; checked at load time). */
export interface JsonWebKeyPublic {
  readonly kty: string;
  readonly kid?: string;
  readonly alg?: string;
  readonly use?: string;
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly n?: string;
  readonly e?: string;
}

export interface Partner {
  /** OAuth client_id at our authorization server. */
  readonly clientId: string;
  readonly name: string;
  /** BICs (8 or 11 characters, as registered) the partner may use as instructing agent / BAH sender. */
  readonly bics: readonly string[];
  readonly scopes: readonly PartnerScope[];
  /** Subject DN of the partner's mTLS client certificate, RFC 4514 (e.g. `CN=bank-alpha,O=Alpha Bank AG,C=DE`). */
  readonly certificateSubject: string;
  readonly tokenEndpointAuth: TokenEndpointAuth;
  readonly tokenBinding: TokenBinding;
}

export interface PartnerRegistry {
  readonly partners: readonly Partner[];
  byClientId(clientId: string): Partner | undefined;
  /** The partner whose registered certificate subject equals `subjectDn` (any RFC 4514 or Node `\n` form). */
  byCertificateSubject(subjectDn: string): Partner | undefined;
}

export class PartnerRegistryError extends Error {
  override readonly name = 'PartnerRegistryError';
}

export function loadPartnerRegistry(file: string): PartnerRegistry {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new PartnerRegistryError(`partner registry ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parsePartnerRegistry(json, file);
}

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const BIC = /^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/;
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

export function parsePartnerRegistry(json: unknown, source = 'partner registry'): PartnerRegistry {
  const fail = (path: string, message: string): never => {
    throw new PartnerRegistryError(`${source}: ${path}: ${message}`);
  };
  if (!isObject(json) || !Array.isArray(json.partners)) fail('$', 'expected an object with a "partners" array');
  const list = (json as { partners: unknown[] }).partners;
  if (list.length === 0) fail('$.partners', 'at least one partner is required');

  const partners = list.map((raw, index): Partner => {
    const at = `$.partners[${index}]`;
    if (!isObject(raw)) return fail(at, 'expected an object');
    const clientId = str(raw.clientId, `${at}.clientId`, fail);
    if (!CLIENT_ID.test(clientId)) fail(`${at}.clientId`, 'letters, digits, ".", "_" and "-" only, at most 64');
    const name = str(raw.name, `${at}.name`, fail);
    if (!Array.isArray(raw.bics) || raw.bics.length === 0) fail(`${at}.bics`, 'expected a non-empty array of BICs');
    const bics = (raw.bics as unknown[]).map((bic, i) => {
      const value = str(bic, `${at}.bics[${i}]`, fail);
      if (!BIC.test(value)) fail(`${at}.bics[${i}]`, `"${value}" is not a BIC (8 or 11 characters, upper case)`);
      return value;
    });
    if (!Array.isArray(raw.scopes) || raw.scopes.length === 0) fail(`${at}.scopes`, 'expected a non-empty array');
    const scopes = (raw.scopes as unknown[]).map((scope, i) => {
      if (!PARTNER_SCOPES.includes(scope as PartnerScope)) {
        fail(`${at}.scopes[${i}]`, `expected one of ${PARTNER_SCOPES.join(', ')}`);
      }
      return scope as PartnerScope;
    });
    const certificateSubject = str(raw.certificateSubject, `${at}.certificateSubject`, fail);
    try {
      canonicalDn(certificateSubject);
    } catch (error) {
      fail(`${at}.certificateSubject`, (error as Error).message);
    }
    const binding = raw.tokenBinding;
    if (binding !== 'dpop' && binding !== 'mtls') fail(`${at}.tokenBinding`, 'expected "dpop" or "mtls"');
    const auth = raw.tokenEndpointAuth;
    if (!isObject(auth)) return fail(`${at}.tokenEndpointAuth`, 'expected an object');
    let tokenEndpointAuth: TokenEndpointAuth;
    if (auth.method === 'tls_client_auth') {
      tokenEndpointAuth = { method: 'tls_client_auth' };
    } else if (auth.method === 'private_key_jwt') {
      const jwks = auth.jwks;
      if (!isObject(jwks) || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
        return fail(`${at}.tokenEndpointAuth.jwks`, 'expected {"keys": [...]} with at least one public key');
      }
      const keys = (jwks.keys as unknown[]).map((key, i) => {
        const keyAt = `${at}.tokenEndpointAuth.jwks.keys[${i}]`;
        if (!isObject(key) || typeof key.kty !== 'string') return fail(keyAt, 'expected a JWK');
        for (const member of PRIVATE_JWK_MEMBERS) {
          if (member in key) fail(keyAt, `private key material ("${member}") must never be registered`);
        }
        if (key.kty === 'RSA' || key.kty === 'oct') fail(keyAt, `kty ${String(key.kty)} is not accepted (use EC P-256 or OKP Ed25519)`);
        if (key.alg !== undefined && !FAPI_SIGNING_ALGORITHMS.includes(key.alg as FapiSigningAlgorithm)) {
          fail(`${keyAt}.alg`, `expected one of ${FAPI_SIGNING_ALGORITHMS.join(', ')}`);
        }
        return key as unknown as JsonWebKeyPublic;
      });
      tokenEndpointAuth = { method: 'private_key_jwt', jwks: { keys } };
    } else {
      return fail(`${at}.tokenEndpointAuth.method`, 'expected "private_key_jwt" or "tls_client_auth"');
    }
    return {
      clientId,
      name,
      bics,
      scopes,
      certificateSubject,
      tokenEndpointAuth,
      tokenBinding: binding as TokenBinding,
    };
  });

  const byId = new Map<string, Partner>();
  const bySubject = new Map<string, Partner>();
  const byBic = new Map<string, Partner>();
  partners.forEach((partner, index) => {
    if (byId.has(partner.clientId)) fail(`$.partners[${index}].clientId`, `duplicate client_id "${partner.clientId}"`);
    byId.set(partner.clientId, partner);
    const subject = canonicalDn(partner.certificateSubject);
    if (bySubject.has(subject)) fail(`$.partners[${index}].certificateSubject`, 'used by another partner');
    bySubject.set(subject, partner);
    for (const bic of partner.bics) {
      // A BIC belongs to one partner: otherwise entitlement ("may this caller send for this bank?") is ambiguous.
      if (byBic.has(bic)) fail(`$.partners[${index}].bics`, `${bic} is already registered to ${byBic.get(bic)?.clientId}`);
      byBic.set(bic, partner);
    }
  });

  return deepFreeze({
    partners,
    byClientId: (clientId: string) => byId.get(clientId),
    byCertificateSubject: (subjectDn: string) => {
      try {
        return bySubject.get(canonicalDn(subjectDn));
      } catch {
        return undefined;
      }
    },
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown, path: string, fail: (path: string, message: string) => never): string {
  if (typeof value !== 'string' || value.trim() === '') return fail(path, 'expected a non-empty string');
  return value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
