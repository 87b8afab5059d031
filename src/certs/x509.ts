/**
 * Certificate issuance for the development PKI: a CA, and server or client certificates signed by it. ECDSA P-256
 * keys and ECDSA-with-SHA-256 signatures everywhere; keys leave this module as PKCS#8 PEM.
 *
 * This is the only module that loads @peculiar/x509. Only `isogw certs` and the tests reach it; the gateway and the
 * authorization server read the PEM files with node:crypto and never load an X.509 writer.
 *
 * @example
 * const ca = await createCertificateAuthority({ subject: 'CN=Test CA', notBefore, notAfter });
 * const client = await issueCertificate({ issuer: ca, subject: 'CN=bank-x,O=X Bank,C=DE', kind: 'client', notBefore, notAfter });
 */
// @peculiar/x509 wires its algorithm providers with tsyringe, which needs the Reflect metadata API installed before
// the library loads; ES modules evaluate imports in order, so this line must stay above the next one.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, KeyObject, randomBytes, type webcrypto } from 'node:crypto';

import { canonicalDn } from '../partners/distinguished-name.ts';

/** Serial numbers are random (RFC 5280 allows at most 20 octets; CA/B asks for at least 64 random bits). */
export const SERIAL_NUMBER_BYTES = 16;

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNATURE_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A certificate and its private key, both PEM (the key as PKCS#8). */
export interface CertificateAndKey {
  readonly cert: string;
  readonly key: string;
}

export interface CertificateAuthorityOptions {
  /** RFC 4514 form, most specific first: `CN=...,O=...`. */
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface IssueCertificateOptions {
  readonly issuer: CertificateAndKey;
  /** RFC 4514 form, most specific first: `CN=bank-alpha,O=Alpha Bank AG,C=DE`. */
  readonly subject: string;
  /** `server` gets EKU serverAuth, `client` gets EKU clientAuth. */
  readonly kind: 'server' | 'client';
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** A self-signed CA that may sign end-entity certificates only (pathlen 0). */
export async function createCertificateAuthority(options: CertificateAuthorityOptions): Promise<CertificateAndKey> {
  assertValidity(options.notBefore, options.notAfter);
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialNumber(),
      name: nameOf(options.subject),
      notBefore: options.notBefore,
      notAfter: options.notAfter,
      keys,
      signingAlgorithm: SIGNATURE_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { cert: cert.toString('pem'), key: pkcs8Pem(keys.privateKey) };
}

/** An end-entity certificate with a fresh key, signed by `issuer`. */
export async function issueCertificate(options: IssueCertificateOptions): Promise<CertificateAndKey> {
  assertValidity(options.notBefore, options.notAfter);
  const issuerCert = new x509.X509Certificate(options.issuer.cert);
  const issuerKey = await crypto.subtle.importKey(
    'pkcs8',
    createPrivateKey(options.issuer.key).export({ type: 'pkcs8', format: 'der' }),
    KEY_ALGORITHM,
    false,
    ['sign'],
  );
  const keys = await generateKeyPair();
  const subjectAltNames: x509.JsonGeneralNames = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const issuerKeyId = issuerCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialNumber(),
      subject: nameOf(options.subject),
      // The issuer's encoded name, byte for byte: chain building compares it with the CA's subject.
      issuer: issuerCert.subjectName,
      notBefore: options.notBefore,
      notAfter: options.notAfter,
      publicKey: keys.publicKey,
      signingKey: issuerKey,
      signingAlgorithm: SIGNATURE_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([options.kind === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
        ...(subjectAltNames.length > 0 ? [new x509.SubjectAlternativeNameExtension(subjectAltNames)] : []),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        ...(issuerKeyId === undefined ? [] : [new x509.AuthorityKeyIdentifierExtension(issuerKeyId)]),
      ],
    },
    crypto,
  );
  return { cert: cert.toString('pem'), key: pkcs8Pem(keys.privateKey) };
}

async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  // Extractable, because the private key is written to disk: that is the point of a development PKI.
  return crypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

function pkcs8Pem(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** Hex, 16 random bytes with the top bit cleared: DER INTEGERs are signed and serials must be positive. */
function randomSerialNumber(): string {
  const bytes = randomBytes(SERIAL_NUMBER_BYTES);
  // A leading zero octet would shorten the DER encoding; keep every serial exactly SERIAL_NUMBER_BYTES long.
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

/**
 * RFC 4514 strings list the most specific RDN first, the certificate encodes it last: reverse, so that
 * `CN=bank-alpha,O=Alpha Bank AG,C=DE` is encoded C, O, CN, the order every X.509 tool expects.
 */
function nameOf(rfc4514: string): x509.JsonName {
  try {
    canonicalDn(rfc4514);
  } catch (error) {
    throw new TypeError(`subject "${rfc4514}": ${(error as Error).message}`, { cause: error });
  }
  return rfc4514
    .split(',')
    .map((rdn) => rdn.trim())
    .filter((rdn) => rdn !== '')
    .reverse()
    .map((rdn) => {
      const at = rdn.indexOf('=');
      return { [rdn.slice(0, at).toUpperCase()]: [rdn.slice(at + 1).trim()] };
    });
}

function assertValidity(notBefore: Date, notAfter: Date): void {
  if (!(notBefore.getTime() < notAfter.getTime())) {
    throw new TypeError(`notBefore (${notBefore.toISOString()}) must be before notAfter (${notAfter.toISOString()})`);
  }
}
