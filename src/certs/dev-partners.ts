/**
 * The partners of the development PKI. Tests elsewhere rely on these exact values: one partner per way of
 * authenticating at the token endpoint and binding tokens, and one with read access only.
 */
import { canonicalDn } from '../partners/distinguished-name.ts';
import type { PartnerScope } from '../partners/registry.ts';

export interface DevPartnerSpec {
  clientId: string;
  name: string;
  /** ISO 3166-1 alpha-2, the `C` of the client certificate subject. */
  country: string;
  bics: string[];
  scopes: PartnerScope[];
  tokenEndpointAuth: 'private_key_jwt' | 'tls_client_auth';
  tokenBinding: 'dpop' | 'mtls';
}

export const DEV_PARTNERS: readonly DevPartnerSpec[] = Object.freeze([
  {
    clientId: 'bank-alpha', name: 'Alpha Bank AG', country: 'DE', bics: ['DEUTDEFFXXX'],
    scopes: ['payments:write', 'payments:read'], tokenEndpointAuth: 'private_key_jwt', tokenBinding: 'dpop',
  },
  {
    clientId: 'bank-beta', name: 'Beta Bank AG', country: 'DE', bics: ['COBADEFFXXX'],
    scopes: ['payments:write', 'payments:read'], tokenEndpointAuth: 'tls_client_auth', tokenBinding: 'mtls',
  },
  {
    clientId: 'bank-gamma', name: 'Gamma Bank NV', country: 'NL', bics: ['ABNANL2AXXX'],
    scopes: ['payments:read'], tokenEndpointAuth: 'private_key_jwt', tokenBinding: 'dpop',
  },
].map((spec) => Object.freeze({ ...spec, bics: Object.freeze(spec.bics), scopes: Object.freeze(spec.scopes) }) as DevPartnerSpec));

/** The client certificate subject in RFC 4514 form; the registry's `certificateSubject` is this same string. */
export function clientSubjectOf(spec: DevPartnerSpec): string {
  return `CN=${spec.clientId},O=${spec.name},C=${spec.country}`;
}

// Same rule as the registry: the client id also names a directory, so it must be a plain file name.
const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const COUNTRY = /^[A-Z]{2}$/;

/**
 * Refuses specs that could not become a registry entry before any file is written for them (the registry itself is
 * checked again, in full, by parsePartnerRegistry before it is written).
 */
export function assertDevPartnerSpecs(specs: readonly DevPartnerSpec[]): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    if (!CLIENT_ID.test(spec.clientId)) throw new TypeError(`partner client id "${spec.clientId}": letters, digits, ".", "_" and "-" only, at most 64`);
    if (seen.has(spec.clientId)) throw new TypeError(`partner client id "${spec.clientId}" is listed twice`);
    seen.add(spec.clientId);
    if (!COUNTRY.test(spec.country)) throw new TypeError(`partner ${spec.clientId}: country "${spec.country}" is not an ISO 3166 alpha-2 code`);
    try {
      canonicalDn(clientSubjectOf(spec));
    } catch (error) {
      throw new TypeError(`partner ${spec.clientId}: ${(error as Error).message}`, { cause: error });
    }
  }
}
