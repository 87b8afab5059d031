/**
 * Where each file of the development PKI lives and what it is. README.txt in the generated directory is written
 * from this table, so the explanation next to the keys cannot drift from the code that writes them.
 */
import { join } from 'node:path';

export const FILE_NAMES = {
  caCert: 'ca-cert.pem',
  caKey: 'ca-key.pem',
  serverCert: 'server-cert.pem',
  serverKey: 'server-key.pem',
  registry: 'partners.json',
  authzSigningKeys: 'authz-signing-keys.json',
  authzSecrets: 'authz-secrets.json',
  readme: 'README.txt',
} as const;

/** Per-partner files live in their own directory, so no client id can collide with a top-level file. */
export const PARTNERS_DIR = 'partners';
export const PARTNER_FILE_NAMES = {
  clientCert: 'client-cert.pem',
  clientKey: 'client-key.pem',
  signingKey: 'signing-key.json',
} as const;

export function partnerFile(dir: string, clientId: string, file: keyof typeof PARTNER_FILE_NAMES): string {
  return join(dir, PARTNERS_DIR, clientId, PARTNER_FILE_NAMES[file]);
}

const DESCRIPTIONS: readonly (readonly [string, string])[] = [
  [FILE_NAMES.caCert, 'the development CA certificate (ECDSA P-256); trust it for the server and for partner clients'],
  [FILE_NAMES.caKey, 'the CA private key (PKCS#8, mode 0600)'],
  [FILE_NAMES.serverCert, 'TLS server certificate for localhost, 127.0.0.1 and ::1 (gateway and authorization server)'],
  [FILE_NAMES.serverKey, 'its private key (PKCS#8, mode 0600)'],
  [FILE_NAMES.registry, 'the partner registry: client ids, BICs, scopes, certificate subjects, public JWKs (no secrets)'],
  [FILE_NAMES.authzSigningKeys, 'private JWKs the authorization server signs with: ES256, PS256, EdDSA (mode 0600)'],
  [FILE_NAMES.authzSecrets, 'authorization server cookie keys and DPoP nonce secret (mode 0600)'],
  [`${PARTNERS_DIR}/<client id>/${PARTNER_FILE_NAMES.clientCert}`, "a partner's mTLS client certificate, subject CN=<client id>,O=<name>,C=<country>"],
  [`${PARTNERS_DIR}/<client id>/${PARTNER_FILE_NAMES.clientKey}`, 'its private key (PKCS#8, mode 0600)'],
  [`${PARTNERS_DIR}/<client id>/${PARTNER_FILE_NAMES.signingKey}`, 'private_key_jwt partners only: their private ES256 JWK for client assertions (mode 0600)'],
];

export function readmeText(): string {
  const width = Math.max(...DESCRIPTIONS.map(([file]) => file.length));
  return [
    'iso20022-gateway DEVELOPMENT PKI - for local development and tests only.',
    '',
    'Every key here was generated on this machine by `isogw certs` and is stored unencrypted. Never use these',
    'files outside development, never commit them. Running `isogw certs` again reuses what is still good and',
    'renews the rest; delete this directory to start over.',
    '',
    ...DESCRIPTIONS.map(([file, description]) => `${file.padEnd(width)}  ${description}`),
    '',
  ].join('\n');
}
