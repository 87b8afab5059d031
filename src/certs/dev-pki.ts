/**
 * The development PKI behind `isogw certs` and the tests: a CA, a localhost server certificate, a client
 * certificate per partner, the partners' and the authorization server's signing keys, the authorization server's
 * secrets, and the partner registry that ties them together.
 *
 * Idempotent: every file that exists and is still good is reused byte for byte; whatever is missing, unreadable,
 * about to expire or issued by another CA is renewed. Certificates are checked against the CA on disk, so a new CA
 * reissues everything it signed without any bookkeeping.
 *
 * @example
 * const files = await createDevPki('certs/dev');
 * readFileSync(files.partners['bank-alpha']!.clientCert);
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { join, resolve } from 'node:path';

import { parsePartnerRegistry, type FapiSigningAlgorithm } from '../partners/registry.ts';
import { caProblem, leafProblem, parseCertificate } from './checks.ts';
import { assertDevPartnerSpecs, clientSubjectOf, DEV_PARTNERS, type DevPartnerSpec } from './dev-partners.ts';
import { ensureMode, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, readIfExists, writeFileAtomic } from './files.ts';
import { generateSigningJwk, isGoodSigningJwk, publicJwk, type PrivateSigningJwk } from './jwk.ts';
import { FILE_NAMES, partnerFile, readmeText } from './layout.ts';
import { createCertificateAuthority, issueCertificate, type CertificateAndKey } from './x509.ts';

export { DEV_PARTNERS, type DevPartnerSpec } from './dev-partners.ts';
export { createCertificateAuthority, issueCertificate, type CertificateAndKey, type IssueCertificateOptions, type CertificateAuthorityOptions } from './x509.ts';
export { RENEWAL_MARGIN_DAYS } from './checks.ts';

export const CA_SUBJECT = 'CN=iso20022-gateway development CA,O=iso20022-gateway (development only)';
export const CA_VALIDITY_DAYS = 730;
export const LEAF_VALIDITY_DAYS = 365;
/** Certificates start this long before "now", so a peer whose clock is a little behind still accepts them. */
export const NOT_BEFORE_BACKDATE_MINUTES = 60;
export const SERVER_SUBJECT = 'CN=localhost,O=iso20022-gateway (development only)';
export const SERVER_DNS_NAMES = ['localhost'] as const;
export const SERVER_IP_ADDRESSES = ['127.0.0.1', '::1'] as const;
/** The authorization server signs with each algorithm FAPI 2.0 allows, so clients can pick. */
export const AUTHZ_SIGNING_ALGORITHMS = ['ES256', 'PS256', 'EdDSA'] as const satisfies readonly FapiSigningAlgorithm[];
/** Length of each authorization server secret (cookie key, DPoP nonce secret). */
export const AUTHZ_SECRET_BYTES = 32;
const PARTNER_SIGNING_ALGORITHM = 'ES256';

const DAY_MS = 24 * 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;

export interface DevPkiFiles {
  /** Absolute. */
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** partners.json, the partner registry (public material only). */
  registry: string;
  /** JSON `{"keys": [...]}`: the authorization server's private JWKs (ES256, PS256, EdDSA), each with kid, alg, use. */
  authzSigningKeys: string;
  /** JSON `{"cookieKeys": [base64url], "dpopNonceSecret": base64url}`, 32 bytes each. */
  authzSecrets: string;
  partners: Record<string, { clientCert: string; clientKey: string; signingKey?: string }>;
  readme: string;
}

/** What happened to one file: `renewed` means it existed but could not be reused, for `reason`. */
export interface DevPkiFileEvent {
  readonly file: string;
  readonly action: 'created' | 'renewed' | 'reused';
  readonly reason?: string;
}

export interface CreateDevPkiOptions {
  readonly partners?: readonly DevPartnerSpec[];
  /** The clock: validity checks and new certificates are relative to it. */
  readonly now?: Date;
  /** Called once per file, in the order they are settled. */
  readonly onFile?: (event: DevPkiFileEvent) => void;
}

/** An operating error (a directory that cannot be written, a file that cannot be read). */
export class DevPkiError extends Error {
  override readonly name = 'DevPkiError';
}

export async function createDevPki(outDir: string, options: CreateDevPkiOptions = {}): Promise<DevPkiFiles> {
  const specs = options.partners ?? DEV_PARTNERS;
  assertDevPartnerSpecs(specs);
  const dir = resolve(outDir);
  const ctx: Context = { now: options.now ?? new Date(), report: options.onFile ?? (() => {}) };
  try {
    return await settle(dir, specs, ctx);
  } catch (error) {
    // Anything else (a bad spec, a broken invariant) is a programmer error and stays what it is.
    if (!isSystemError(error)) throw error;
    throw new DevPkiError(`cannot set up the development PKI in ${dir}: ${error.message}`, { cause: error });
  }
}

interface Context {
  readonly now: Date;
  readonly report: (event: DevPkiFileEvent) => void;
}

async function settle(dir: string, specs: readonly DevPartnerSpec[], ctx: Context): Promise<DevPkiFiles> {
  const files: DevPkiFiles = {
    dir,
    caCert: join(dir, FILE_NAMES.caCert),
    caKey: join(dir, FILE_NAMES.caKey),
    serverCert: join(dir, FILE_NAMES.serverCert),
    serverKey: join(dir, FILE_NAMES.serverKey),
    registry: join(dir, FILE_NAMES.registry),
    authzSigningKeys: join(dir, FILE_NAMES.authzSigningKeys),
    authzSecrets: join(dir, FILE_NAMES.authzSecrets),
    partners: {},
    readme: join(dir, FILE_NAMES.readme),
  };
  const notBefore = new Date(ctx.now.getTime() - NOT_BEFORE_BACKDATE_MINUTES * MINUTE_MS);

  const ca = await settlePair(files.caCert, files.caKey, ctx, {
    problem: (cert, key) => caProblem(cert, key, { subject: CA_SUBJECT, now: ctx.now }),
    issue: () => createCertificateAuthority({ subject: CA_SUBJECT, notBefore, notAfter: daysAfter(ctx.now, CA_VALIDITY_DAYS) }),
  });
  const caCert = new X509Certificate(ca.cert);
  // A leaf never outlives its CA: a reused CA may have less than LEAF_VALIDITY_DAYS left.
  const leafNotAfter = new Date(Math.min(daysAfter(ctx.now, LEAF_VALIDITY_DAYS).getTime(), caCert.validToDate.getTime()));

  await settlePair(files.serverCert, files.serverKey, ctx, {
    problem: (cert, key) => leafProblem(cert, key, {
      ca: caCert, kind: 'server', subject: SERVER_SUBJECT, dnsNames: SERVER_DNS_NAMES, ipAddresses: SERVER_IP_ADDRESSES, now: ctx.now,
    }),
    issue: () => issueCertificate({
      issuer: ca, subject: SERVER_SUBJECT, kind: 'server', dnsNames: SERVER_DNS_NAMES, ipAddresses: SERVER_IP_ADDRESSES, notBefore, notAfter: leafNotAfter,
    }),
  });

  const entries: unknown[] = [];
  for (const spec of specs) {
    const subject = clientSubjectOf(spec);
    const clientCert = partnerFile(dir, spec.clientId, 'clientCert');
    const clientKey = partnerFile(dir, spec.clientId, 'clientKey');
    await settlePair(clientCert, clientKey, ctx, {
      problem: (cert, key) => leafProblem(cert, key, { ca: caCert, kind: 'client', subject, now: ctx.now }),
      issue: () => issueCertificate({ issuer: ca, subject, kind: 'client', notBefore, notAfter: leafNotAfter }),
    });
    const partner: DevPkiFiles['partners'][string] = { clientCert, clientKey };
    let tokenEndpointAuth: unknown = { method: 'tls_client_auth' };
    if (spec.tokenEndpointAuth === 'private_key_jwt') {
      partner.signingKey = partnerFile(dir, spec.clientId, 'signingKey');
      const jwk = await settleSigningJwk(partner.signingKey, ctx);
      tokenEndpointAuth = { method: 'private_key_jwt', jwks: { keys: [publicJwk(jwk)] } };
    }
    files.partners[spec.clientId] = partner;
    entries.push({
      clientId: spec.clientId,
      name: spec.name,
      bics: spec.bics,
      scopes: spec.scopes,
      certificateSubject: subject,
      tokenEndpointAuth,
      tokenBinding: spec.tokenBinding,
    });
  }

  await settleJson(files.authzSigningKeys, PRIVATE_FILE_MODE, ctx, isGoodAuthzSigningKeys, async () => ({
    keys: await Promise.all(AUTHZ_SIGNING_ALGORITHMS.map((alg) => generateSigningJwk(alg))),
  }));
  await settleJson(files.authzSecrets, PRIVATE_FILE_MODE, ctx, isGoodAuthzSecrets, () => ({
    cookieKeys: [randomBytes(AUTHZ_SECRET_BYTES).toString('base64url')],
    dpopNonceSecret: randomBytes(AUTHZ_SECRET_BYTES).toString('base64url'),
  }));

  const registry = { partners: entries };
  // The gateway refuses to boot on a bad registry; refuse to write one in the first place.
  parsePartnerRegistry(structuredClone(registry), files.registry);
  await settleDerived(files.registry, `${JSON.stringify(registry, null, 2)}\n`, ctx);
  await settleDerived(files.readme, readmeText(), ctx);
  return files;
}

interface PairPolicy {
  problem(cert: X509Certificate, keyPem: string): string | undefined;
  issue(): Promise<CertificateAndKey>;
}

/** A certificate and its key are reused or renewed together. The key is written first: see below. */
async function settlePair(certFile: string, keyFile: string, ctx: Context, policy: PairPolicy): Promise<CertificateAndKey> {
  const [certPem, keyPem] = await Promise.all([readIfExists(certFile), readIfExists(keyFile)]);
  let reason: string | undefined;
  if (certPem === undefined || keyPem === undefined) {
    reason = certPem === undefined && keyPem === undefined ? undefined : `${certPem === undefined ? 'certificate' : 'private key'} missing`;
  } else {
    const cert = parseCertificate(certPem);
    reason = typeof cert === 'string' ? cert : policy.problem(cert, keyPem);
    if (reason === undefined) {
      await ensureMode(keyFile, PRIVATE_FILE_MODE);
      ctx.report({ file: certFile, action: 'reused' });
      ctx.report({ file: keyFile, action: 'reused' });
      return { cert: certPem, key: keyPem };
    }
  }
  const fresh = await policy.issue();
  // Key before certificate: if we stop in between, the old certificate no longer matches the new key and the next
  // run renews both, instead of reusing a certificate whose key is gone.
  await writeFileAtomic(keyFile, fresh.key, PRIVATE_FILE_MODE);
  await writeFileAtomic(certFile, fresh.cert, PUBLIC_FILE_MODE);
  const action = reason === undefined ? 'created' : 'renewed';
  ctx.report({ file: certFile, action, ...(reason === undefined ? {} : { reason }) });
  ctx.report({ file: keyFile, action, ...(reason === undefined ? {} : { reason }) });
  return fresh;
}

async function settleSigningJwk(file: string, ctx: Context): Promise<PrivateSigningJwk> {
  return settleJson(file, PRIVATE_FILE_MODE, ctx, (value) => isGoodSigningJwk(value, PARTNER_SIGNING_ALGORITHM), () => generateSigningJwk(PARTNER_SIGNING_ALGORITHM));
}

/** A JSON file holding generated secrets: reused while `isGood` accepts it, else generated anew. */
async function settleJson<T>(
  file: string,
  mode: number,
  ctx: Context,
  isGood: (value: unknown) => boolean | Promise<boolean>,
  generate: () => T | Promise<T>,
): Promise<T> {
  const text = await readIfExists(file);
  let reason: string | undefined;
  if (text !== undefined) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    if (value !== undefined && (await isGood(value))) {
      await ensureMode(file, mode);
      ctx.report({ file, action: 'reused' });
      return value as T;
    }
    reason = 'unreadable or not the expected keys';
  }
  const fresh = await generate();
  await writeFileAtomic(file, `${JSON.stringify(fresh, null, 2)}\n`, mode);
  ctx.report({ file, action: reason === undefined ? 'created' : 'renewed', ...(reason === undefined ? {} : { reason }) });
  return fresh;
}

/** A file computed from the others (registry, README): rewritten only when its content would change. */
async function settleDerived(file: string, content: string, ctx: Context): Promise<void> {
  const current = await readIfExists(file);
  if (current === content) {
    ctx.report({ file, action: 'reused' });
    return;
  }
  await writeFileAtomic(file, content, PUBLIC_FILE_MODE);
  ctx.report({ file, action: current === undefined ? 'created' : 'renewed', ...(current === undefined ? {} : { reason: 'out of date' }) });
}

async function isGoodAuthzSigningKeys(value: unknown): Promise<boolean> {
  if (!isRecord(value) || !Array.isArray(value.keys) || value.keys.length !== AUTHZ_SIGNING_ALGORITHMS.length) return false;
  const keys = value.keys as unknown[];
  const verdicts = await Promise.all(AUTHZ_SIGNING_ALGORITHMS.map((alg, i) => isGoodSigningJwk(keys[i], alg)));
  return verdicts.every(Boolean);
}

function isGoodAuthzSecrets(value: unknown): boolean {
  if (!isRecord(value) || !Array.isArray(value.cookieKeys) || value.cookieKeys.length === 0) return false;
  return [...(value.cookieKeys as unknown[]), value.dpopNonceSecret].every(isSecret);
}

function isSecret(value: unknown): boolean {
  return typeof value === 'string' && /^[A-Za-z0-9_-]+$/.test(value) && Buffer.from(value, 'base64url').length === AUTHZ_SECRET_BYTES;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && (error as NodeJS.ErrnoException).syscall !== undefined;
}

function daysAfter(date: Date, days: number): Date {
  return new Date(date.getTime() + days * DAY_MS);
}
