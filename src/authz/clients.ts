/**
 * Partners as oidc-provider clients. The partner registry is the only source of clients: dynamic registration is
 * off and the adapter never yields a stored client, so the registry file alone decides who can get a token.
 *
 * Every partner is a machine client: client_credentials only, no redirect URIs, no response types. Its token binding
 * becomes oidc-provider's "must be sender-constrained" flag, which makes oidc-provider refuse to issue the partner
 * a token without the matching proof (a DPoP proof, or a client certificate on the mTLS listener).
 */
import type { ClientMetadata, JWK } from 'oidc-provider';

import type { Partner, PartnerRegistry } from '../partners/registry.ts';

export function partnerClientMetadata(partner: Partner): ClientMetadata {
  const auth = partner.tokenEndpointAuth;
  const usesMtls = auth.method === 'tls_client_auth' || partner.tokenBinding === 'mtls';
  return {
    client_id: partner.clientId,
    client_name: partner.name,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: partner.scopes.join(' '),
    token_endpoint_auth_method: auth.method,
    // No token_endpoint_auth_signing_alg: the server-wide list (the FAPI algorithms) applies, and the registry only
    // accepts EC / OKP keys, so the partner's own keys narrow it further.
    ...(auth.method === 'private_key_jwt'
      ? { jwks: { keys: auth.jwks.keys.map((key) => ({ ...key }) as JWK) } }
      : { tls_client_auth_subject_dn: partner.certificateSubject }),
    dpop_bound_access_tokens: partner.tokenBinding === 'dpop',
    tls_client_certificate_bound_access_tokens: partner.tokenBinding === 'mtls',
    // Tells the partner's client library (RFC 8705 §5) to send token requests to the mTLS alias, the only listener
    // that asks for a certificate.
    use_mtls_endpoint_aliases: usesMtls,
  };
}

export function partnerClients(registry: PartnerRegistry): ClientMetadata[] {
  return registry.partners.map(partnerClientMetadata);
}
