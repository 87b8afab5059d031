import { describe, expect, it } from 'vitest';

import { canonicalDn } from '../../src/partners/distinguished-name.ts';
import { parsePartnerRegistry, PartnerRegistryError } from '../../src/partners/registry.ts';

const alphaKey = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1', alg: 'ES256', use: 'sig' };
const alpha = {
  clientId: 'bank-alpha',
  name: 'Alpha Bank AG',
  bics: ['DEUTDEFFXXX'],
  scopes: ['payments:write', 'payments:read'],
  certificateSubject: 'CN=bank-alpha,O=Alpha Bank AG,C=DE',
  tokenEndpointAuth: { method: 'private_key_jwt', jwks: { keys: [alphaKey] } },
  tokenBinding: 'dpop',
};
const beta = {
  clientId: 'bank-beta',
  name: 'Beta Bank AG',
  bics: ['COBADEFFXXX'],
  scopes: ['payments:read'],
  certificateSubject: 'CN=bank-beta,O=Beta Bank AG,C=DE',
  tokenEndpointAuth: { method: 'tls_client_auth' },
  tokenBinding: 'mtls',
};

function registryError(json: unknown): string {
  try {
    parsePartnerRegistry(json, 'partners.json');
  } catch (error) {
    expect(error).toBeInstanceOf(PartnerRegistryError);
    return (error as Error).message;
  }
  throw new Error('expected the registry to be refused');
}

describe('the partner registry', () => {
  it('finds a partner by client_id and by the certificate subject in either DN spelling', () => {
    const registry = parsePartnerRegistry({ partners: [alpha, beta] });
    expect(registry.byClientId('bank-beta')?.bics).toEqual(['COBADEFFXXX']);
    // Node's X509Certificate.subject lists RDNs in certificate order, one per line.
    expect(registry.byCertificateSubject('C=DE\nO=Alpha Bank AG\nCN=bank-alpha')?.clientId).toBe('bank-alpha');
    expect(registry.byCertificateSubject('CN=bank-alpha,O=Alpha Bank AG,C=NL')).toBeUndefined();
    expect(registry.byClientId('bank-gamma')).toBeUndefined();
  });

  it('is frozen after loading', () => {
    const registry = parsePartnerRegistry({ partners: [alpha] });
    expect(Object.isFrozen(registry.partners[0]?.bics)).toBe(true);
  });

  it('refuses a registered private key, naming the JSON path', () => {
    const leaked = { ...alpha, tokenEndpointAuth: { method: 'private_key_jwt', jwks: { keys: [{ ...alphaKey, d: 'secret' }] } } };
    expect(registryError({ partners: [leaked] })).toContain('$.partners[0].tokenEndpointAuth.jwks.keys[0]: private key material ("d")');
  });

  it('refuses RS256 and RSA keys, which FAPI 2.0 partners must not use here', () => {
    expect(registryError({ partners: [{ ...alpha, tokenEndpointAuth: { method: 'private_key_jwt', jwks: { keys: [{ ...alphaKey, alg: 'RS256' }] } } }] })).toContain('.alg');
    expect(registryError({ partners: [{ ...alpha, tokenEndpointAuth: { method: 'private_key_jwt', jwks: { keys: [{ kty: 'RSA', n: 'n', e: 'AQAB' }] } } }] })).toContain('kty RSA');
  });

  it('refuses a BIC registered to two partners (entitlement would be ambiguous)', () => {
    expect(registryError({ partners: [alpha, { ...beta, bics: ['DEUTDEFFXXX'] }] })).toContain('DEUTDEFFXXX is already registered to bank-alpha');
  });

  it('refuses duplicate client ids, unknown scopes, bad BICs and a missing binding', () => {
    expect(registryError({ partners: [alpha, alpha] })).toContain('duplicate client_id');
    expect(registryError({ partners: [{ ...alpha, scopes: ['admin'] }] })).toContain('$.partners[0].scopes[0]');
    expect(registryError({ partners: [{ ...alpha, bics: ['deutdeff'] }] })).toContain('$.partners[0].bics[0]');
    expect(registryError({ partners: [{ ...alpha, tokenBinding: 'none' }] })).toContain('$.partners[0].tokenBinding');
  });

  it('refuses a certificate subject that would need RFC 4514 escaping', () => {
    expect(registryError({ partners: [{ ...alpha, certificateSubject: 'CN=a\\,b,O=X' }] })).toContain('certificateSubject');
  });
});

describe('distinguished names', () => {
  it('compare by meaning: order, separators and attribute-type case do not matter', () => {
    expect(canonicalDn('CN=bank-alpha, O=Alpha Bank AG, C=DE')).toBe(canonicalDn('c=DE\no=Alpha Bank AG\ncn=bank-alpha'));
  });

  it('keep value case: O=Alpha and O=ALPHA are different subjects', () => {
    expect(canonicalDn('CN=a,O=Alpha')).not.toBe(canonicalDn('CN=a,O=ALPHA'));
  });
});
