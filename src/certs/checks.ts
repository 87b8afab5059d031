/**
 * Whether a certificate on disk can be reused: each check returns the reason it cannot (shown to the user as
 * "renewed (...)") or undefined. Read with node:crypto, the same parser the gateway's TLS stack trusts.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';

import { canonicalDn } from '../partners/distinguished-name.ts';

/** A certificate with fewer days than this left is renewed, so a fresh checkout never starts with one about to expire. */
export const RENEWAL_MARGIN_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

const EKU_OID = { server: '1.3.6.1.5.5.7.3.1', client: '1.3.6.1.5.5.7.3.2' } as const;

/** Parses a certificate, or explains why not. */
export function parseCertificate(pem: string): X509Certificate | string {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    return `unreadable certificate (${(error as Error).message})`;
  }
}

export interface CaExpectation {
  readonly subject: string;
  readonly now: Date;
}

export function caProblem(cert: X509Certificate, keyPem: string, expected: CaExpectation): string | undefined {
  if (!cert.ca) return 'not a CA certificate';
  if (!cert.checkIssued(cert) || !cert.verify(cert.publicKey)) return 'not self-signed';
  return commonProblem(cert, keyPem, expected.subject, expected.now);
}

export interface LeafExpectation {
  readonly ca: X509Certificate;
  readonly kind: 'server' | 'client';
  readonly subject: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly now: Date;
}

export function leafProblem(cert: X509Certificate, keyPem: string, expected: LeafExpectation): string | undefined {
  if (!cert.checkIssued(expected.ca) || !cert.verify(expected.ca.publicKey)) return 'not issued by the current CA';
  if (cert.ca) return 'a CA certificate where an end-entity certificate belongs';
  if (!(cert.keyUsage ?? []).includes(EKU_OID[expected.kind])) return `extended key usage lacks ${expected.kind}Auth`;
  for (const name of expected.dnsNames ?? []) {
    if (cert.checkHost(name, { wildcards: false }) === undefined) return `no subject alternative name for ${name}`;
  }
  for (const ip of expected.ipAddresses ?? []) {
    if (cert.checkIP(ip) === undefined) return `no subject alternative name for ${ip}`;
  }
  return commonProblem(cert, keyPem, expected.subject, expected.now);
}

function commonProblem(cert: X509Certificate, keyPem: string, subject: string, now: Date): string | undefined {
  const key = cert.publicKey;
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return 'key is not ECDSA P-256';
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return 'private key does not match the certificate';
  } catch (error) {
    return `unreadable private key (${(error as Error).message})`;
  }
  if (!sameDn(cert.subject, subject)) return `subject is not ${subject}`;
  if (cert.validFromDate.getTime() > now.getTime()) return `not valid before ${cert.validFromDate.toISOString()}`;
  const daysLeft = Math.floor((cert.validToDate.getTime() - now.getTime()) / DAY_MS);
  if (daysLeft < RENEWAL_MARGIN_DAYS) return daysLeft < 0 ? 'expired' : `expires in ${daysLeft} days`;
  return undefined;
}

function sameDn(actual: string, expected: string): boolean {
  try {
    return canonicalDn(actual) === canonicalDn(expected);
  } catch {
    return false; // a subject outside the subset we issue is never one we issued
  }
}
