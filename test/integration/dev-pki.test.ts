/**
 * The development PKI, on real files: what it creates, that a second run changes nothing, that a lost CA takes its
 * certificates with it, that the certificates are what the gateway's TLS stack expects (checked with node:crypto
 * and a real TLS 1.3 handshake), and the `isogw certs` command end to end.
 */
import { spawnSync } from 'node:child_process';
import { createPrivateKey, type JsonWebKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
// @peculiar/x509 needs the Reflect metadata API before it loads (see src/certs/x509.ts); here it reads extensions
// node:crypto does not expose (basic constraints, key usage).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import {
  CA_SUBJECT, CA_VALIDITY_DAYS, createCertificateAuthority, createDevPki, DEV_PARTNERS, issueCertificate, LEAF_VALIDITY_DAYS,
  type DevPkiFileEvent, type DevPkiFiles,
} from '../../src/certs/dev-pki.ts';
import { canonicalDn } from '../../src/partners/distinguished-name.ts';
import { parsePartnerRegistry } from '../../src/partners/registry.ts';
import { devPki } from '../support/pki.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DAY_MS = 24 * 60 * 60 * 1000;
const OID = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' };
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** Every file a default PKI consists of: 4 CA/server + 2 per partner + 2 partner signing keys + 2 authz + registry + README. */
const DEFAULT_FILE_COUNT = 4 + 2 * DEV_PARTNERS.length + 2 + 2 + 1 + 1;

const cert = async (file: string) => new X509Certificate(await readFile(file));
const json = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;

/** Every file below `dir` with what would show a rewrite: content, inode (rename makes a new one) and mtime. */
async function snapshot(dir: string): Promise<Map<string, { bytes: string; ino: bigint; mtimeNs: bigint }>> {
  const names = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  const entries = await Promise.all(names.map(async (file) => {
    const s = await stat(file, { bigint: true });
    return [relative(dir, file), { bytes: (await readFile(file)).toString('base64'), ino: s.ino, mtimeNs: s.mtimeNs }] as const;
  }));
  return new Map(entries.sort(([a], [b]) => a.localeCompare(b)));
}

async function run(dir: string, options: { now?: Date } = {}): Promise<{ files: DevPkiFiles; events: DevPkiFileEvent[] }> {
  const events: DevPkiFileEvent[] = [];
  const files = await createDevPki(dir, { ...options, onFile: (e) => events.push(e) });
  return { files, events };
}

const eventFor = (events: DevPkiFileEvent[], file: string) => events.find((e) => e.file === file);

describe('createDevPki on an empty directory', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'isogw-pki-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('creates the CA, the server certificate, every partner, the authorization server keys and the registry', async () => {
    const { files, events } = await run(dir);
    expect(events).toHaveLength(DEFAULT_FILE_COUNT);
    expect(events.every((e) => e.action === 'created')).toBe(true);
    expect(Object.keys(files.partners)).toEqual(['bank-alpha', 'bank-beta', 'bank-gamma']);
    expect(files.partners['bank-beta']?.signingKey).toBeUndefined();
    const all = [files.caCert, files.caKey, files.serverCert, files.serverKey, files.registry, files.authzSigningKeys, files.authzSecrets, files.readme,
      ...Object.values(files.partners).flatMap((p) => [p.clientCert, p.clientKey, ...(p.signingKey === undefined ? [] : [p.signingKey])])];
    expect(new Set(all).size).toBe(DEFAULT_FILE_COUNT);
    expect([...(await snapshot(dir)).keys()].map((f) => join(dir, f)).sort()).toEqual([...all].sort());
    expect(await readFile(files.readme, 'utf8')).toMatch(/DEVELOPMENT PKI - for local development and tests only/);
  });

  it('changes no file when run a second time', async () => {
    await run(dir);
    const before = await snapshot(dir);
    const { events } = await run(dir);
    expect(events.map((e) => e.action)).toEqual(Array(DEFAULT_FILE_COUNT).fill('reused'));
    expect(await snapshot(dir)).toEqual(before);
  });

  it('reissues every certificate when the CA is deleted, and keeps the signing keys and the registry', async () => {
    const { files } = await run(dir);
    const oldServer = await cert(files.serverCert);
    const before = await snapshot(dir);
    await rm(files.caCert);
    await rm(files.caKey);

    const { events } = await run(dir);
    const ca = await cert(files.caCert);
    const server = await cert(files.serverCert);
    expect(eventFor(events, files.caCert)?.action).toBe('created');
    expect(eventFor(events, files.serverCert)).toMatchObject({ action: 'renewed', reason: 'not issued by the current CA' });
    expect(server.serialNumber).not.toBe(oldServer.serialNumber);
    expect(server.checkIssued(ca) && server.verify(ca.publicKey)).toBe(true);
    for (const partner of Object.values(files.partners)) {
      const client = await cert(partner.clientCert);
      expect(client.checkIssued(ca) && client.verify(ca.publicKey)).toBe(true);
    }
    const after = await snapshot(dir);
    for (const unchanged of ['partners.json', 'authz-signing-keys.json', 'authz-secrets.json', 'partners/bank-alpha/signing-key.json']) {
      expect(after.get(unchanged), unchanged).toEqual(before.get(unchanged));
    }
  });

  it('renews certificates with less than 30 days left and keeps a CA that has more', async () => {
    const { files } = await run(dir);
    const later = new Date(Date.now() + (LEAF_VALIDITY_DAYS - 20) * DAY_MS);
    const { events } = await run(dir, { now: later });
    expect(eventFor(events, files.caCert)?.action).toBe('reused');
    expect(eventFor(events, files.serverCert)).toMatchObject({ action: 'renewed', reason: expect.stringMatching(/^expires in 1\d days$/) });
    expect((await cert(files.serverCert)).validToDate.getTime()).toBeGreaterThan(later.getTime() + 300 * DAY_MS);
  });

  it('renews a CA about to expire, and never issues a certificate that outlives its CA', async () => {
    const { files } = await run(dir);
    const nearCaExpiry = new Date(Date.now() + (CA_VALIDITY_DAYS - 10) * DAY_MS);
    const { events } = await run(dir, { now: nearCaExpiry });
    expect(eventFor(events, files.caCert)).toMatchObject({ action: 'renewed', reason: expect.stringMatching(/^expires in \d+ days$/) });
    expect(eventFor(events, files.serverCert)?.action).toBe('renewed');

    // A CA with 100 days left is reused; a leaf issued under it is cut to the CA's end.
    await rm(files.serverCert);
    const caEnd = (await cert(files.caCert)).validToDate;
    await run(dir, { now: new Date(caEnd.getTime() - 100 * DAY_MS) });
    expect((await cert(files.serverCert)).validToDate.getTime()).toBeLessThanOrEqual(caEnd.getTime());
  });

  it('replaces a private key that does not belong to its certificate, and a corrupt signing key', async () => {
    const { files } = await run(dir);
    const other = await run(await mkdtemp(join(tmpdir(), 'isogw-pki-other-')));
    await writeFile(files.serverKey, await readFile(other.files.serverKey));
    await writeFile(files.partners['bank-alpha']!.signingKey!, '{"kty":"EC"');
    await rm(other.files.dir, { recursive: true, force: true });

    const { events } = await run(dir);
    expect(eventFor(events, files.serverCert)).toMatchObject({ action: 'renewed', reason: 'private key does not match the certificate' });
    expect(eventFor(events, files.partners['bank-alpha']!.signingKey!)?.action).toBe('renewed');
    // The new signing key changes bank-alpha's registered JWKS, so the registry follows.
    expect(eventFor(events, files.registry)).toMatchObject({ action: 'renewed', reason: 'out of date' });
    const key = createPrivateKey(await readFile(files.serverKey));
    expect((await cert(files.serverCert)).checkPrivateKey(key)).toBe(true);
  });

  it('refuses a partner that could not be registered before writing anything', async () => {
    const bad = { ...DEV_PARTNERS[0]!, clientId: '../escape' };
    await expect(createDevPki(dir, { partners: [bad] })).rejects.toThrow(TypeError);
    const twice = [DEV_PARTNERS[0]!, DEV_PARTNERS[0]!];
    await expect(createDevPki(dir, { partners: twice })).rejects.toThrow(/listed twice/);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('the development certificates', () => {
  let files: DevPkiFiles;
  let ca: X509Certificate;
  beforeAll(async () => {
    files = await devPki();
    ca = await cert(files.caCert);
  });

  it('has a self-signed P-256 CA that may only sign end-entity certificates, valid for two years', async () => {
    expect(canonicalDn(ca.subject)).toBe(canonicalDn(CA_SUBJECT));
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca) && ca.verify(ca.publicKey)).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const parsed = new x509.X509Certificate(await readFile(files.caCert, 'utf8'));
    expect(parsed.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
    expect(parsed.getExtension(x509.BasicConstraintsExtension)).toMatchObject({ ca: true, pathLength: 0, critical: true });
    expect(parsed.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    const days = (ca.validToDate.getTime() - ca.validFromDate.getTime()) / DAY_MS;
    expect(Math.round(days)).toBe(CA_VALIDITY_DAYS);
  });

  it('has a P-256 server certificate for localhost, 127.0.0.1 and ::1, for serverAuth, issued by the CA', async () => {
    const server = await cert(files.serverCert);
    expect(server.checkIssued(ca) && server.verify(ca.publicKey)).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(server.checkPrivateKey(createPrivateKey(await readFile(files.serverKey)))).toBe(true);
    expect(server.subjectAltName?.split(', ').sort()).toEqual(['DNS:localhost', 'IP Address:0:0:0:0:0:0:0:1', 'IP Address:127.0.0.1']);
    expect(server.keyUsage).toEqual([OID.serverAuth]);
    const parsed = new x509.X509Certificate(await readFile(files.serverCert, 'utf8'));
    expect(parsed.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(Math.round((server.validToDate.getTime() - server.validFromDate.getTime()) / DAY_MS)).toBe(LEAF_VALIDITY_DAYS);
    // 16 random bytes, positive: the top bit of the first byte is clear.
    expect(server.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/);
  });

  it('gives each partner a clientAuth certificate whose subject is the registered certificateSubject', async () => {
    const registry = parsePartnerRegistry(await json(files.registry));
    for (const spec of DEV_PARTNERS) {
      const paths = files.partners[spec.clientId]!;
      const client = await cert(paths.clientCert);
      const registered = registry.byClientId(spec.clientId)!;
      expect(registered.certificateSubject).toBe(`CN=${spec.clientId},O=${spec.name},C=${spec.country}`);
      expect(client.subject).toBe(`C=${spec.country}\nO=${spec.name}\nCN=${spec.clientId}`);
      expect(canonicalDn(client.subject)).toBe(canonicalDn(registered.certificateSubject));
      expect(registry.byCertificateSubject(client.subject)?.clientId).toBe(spec.clientId);
      expect(client.checkIssued(ca) && client.verify(ca.publicKey)).toBe(true);
      expect(client.keyUsage).toEqual([OID.clientAuth]);
      expect(client.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      expect(client.checkPrivateKey(createPrivateKey(await readFile(paths.clientKey)))).toBe(true);
    }
  });

  it('writes a registry that parses, matches DEV_PARTNERS and holds no private key material', async () => {
    const raw = await json(files.registry);
    const registry = parsePartnerRegistry(raw);
    expect(registry.partners.map((p) => [p.clientId, p.name, p.bics, p.scopes, p.tokenEndpointAuth.method, p.tokenBinding])).toEqual(
      DEV_PARTNERS.map((s) => [s.clientId, s.name, s.bics, s.scopes, s.tokenEndpointAuth, s.tokenBinding]),
    );
    const members = new Set<string>();
    JSON.stringify(raw, (key, value: unknown) => { members.add(key); return value; });
    expect(PRIVATE_JWK_MEMBERS.filter((m) => members.has(m))).toEqual([]);
  });

  it('registers the public half of each private_key_jwt partner signing key, named by its thumbprint', async () => {
    const registry = parsePartnerRegistry(await json(files.registry));
    for (const spec of DEV_PARTNERS.filter((s) => s.tokenEndpointAuth === 'private_key_jwt')) {
      const privateJwk = (await json(files.partners[spec.clientId]!.signingKey!)) as JWK;
      expect(privateJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', d: expect.any(String) });
      expect(privateJwk.kid).toBe(await calculateJwkThumbprint(privateJwk));
      const auth = registry.byClientId(spec.clientId)!.tokenEndpointAuth;
      expect(auth.method === 'private_key_jwt' && auth.jwks.keys).toEqual([
        { kid: privateJwk.kid, alg: 'ES256', use: 'sig', kty: 'EC', crv: 'P-256', x: privateJwk.x, y: privateJwk.y },
      ]);
    }
  });

  it('gives the authorization server one ES256, one PS256 (RSA 2048) and one EdDSA (Ed25519) private signing key', async () => {
    const { keys } = (await json(files.authzSigningKeys)) as { keys: JWK[] };
    expect(keys.map((k) => [k.alg, k.kty, k.crv, k.use])).toEqual([
      ['ES256', 'EC', 'P-256', 'sig'], ['PS256', 'RSA', undefined, 'sig'], ['EdDSA', 'OKP', 'Ed25519', 'sig'],
    ]);
    const keyObjects = await Promise.all(keys.map(async (key) => {
      expect(key.kid).toBe(await calculateJwkThumbprint(key));
      return createPrivateKey({ key: key as JsonWebKey, format: 'jwk' });
    }));
    expect(keyObjects.map((k) => [k.type, k.asymmetricKeyType])).toEqual([['private', 'ec'], ['private', 'rsa'], ['private', 'ed25519']]);
    expect(keyObjects[1]?.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('gives the authorization server 32-byte cookie and DPoP nonce secrets', async () => {
    const secrets = (await json(files.authzSecrets)) as { cookieKeys: string[]; dpopNonceSecret: string };
    expect(secrets.cookieKeys).toHaveLength(1);
    for (const secret of [...secrets.cookieKeys, secrets.dpopNonceSecret]) {
      expect(secret).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    }
  });

  it('keeps every private key file readable by its owner only', async () => {
    const privateFiles = [files.caKey, files.serverKey, files.authzSigningKeys, files.authzSecrets,
      ...Object.values(files.partners).flatMap((p) => [p.clientKey, ...(p.signingKey === undefined ? [] : [p.signingKey])])];
    for (const file of privateFiles) expect(((await stat(file)).mode & 0o777).toString(8), file).toBe('600');
    for (const file of [files.caCert, files.serverCert, files.registry]) expect((await stat(file)).mode & 0o077, file).not.toBe(0);
  });
});

describe('TLS 1.3 with the development PKI', () => {
  let files: DevPkiFiles;
  beforeAll(async () => { files = await devPki(); });

  interface Outcome {
    server: { authorized: true; peerSubject: string } | { authorized: false; error: string };
    clientReceived: string;
  }

  /** One handshake against a server that requires a client certificate from the development CA. */
  async function handshake(client: { cert: string | Buffer; key: string | Buffer }): Promise<Outcome> {
    const [caPem, serverCert, serverKey] = await Promise.all([readFile(files.caCert), readFile(files.serverCert), readFile(files.serverKey)]);
    const server = createServer({
      cert: serverCert, key: serverKey, ca: caPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3',
    });
    const serverOutcome = new Promise<Outcome['server']>((resolve) => {
      server.on('secureConnection', (socket: TLSSocket) => {
        resolve({ authorized: true, peerSubject: socket.getPeerX509Certificate()?.subject ?? '' });
        socket.end('hello');
      });
      // The socket carries OpenSSL's verdict on the client certificate; the error itself is only the hang-up.
      server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
        resolve({ authorized: false, error: String(socket.authorizationError ?? error.code ?? error.message) });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const clientReceived = await new Promise<string>((resolve) => {
        let data = '';
        const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: caPem, cert: client.cert, key: client.key, minVersion: 'TLSv1.3' });
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => { data += chunk; });
        socket.on('error', () => {}); // the refusal arrives as an alert; the outcome is what the server saw
        socket.on('close', () => resolve(data));
      });
      return { server: await serverOutcome, clientReceived };
    } finally {
      server.close();
    }
  }

  it('accepts a partner client certificate and the server certificate passes hostname verification', async () => {
    const alpha = files.partners['bank-alpha']!;
    const outcome = await handshake({ cert: await readFile(alpha.clientCert), key: await readFile(alpha.clientKey) });
    expect(outcome).toEqual({ server: { authorized: true, peerSubject: 'C=DE\nO=Alpha Bank AG\nCN=bank-alpha' }, clientReceived: 'hello' });
  });

  it('refuses a client certificate from another CA, even one that copies the development CA name', async () => {
    const now = Date.now();
    const validity = { notBefore: new Date(now - DAY_MS), notAfter: new Date(now + DAY_MS) };
    for (const subject of ['CN=Some Other CA', CA_SUBJECT]) {
      const otherCa = await createCertificateAuthority({ subject, ...validity });
      const impostor = await issueCertificate({ issuer: otherCa, subject: 'CN=bank-alpha,O=Alpha Bank AG,C=DE', kind: 'client', ...validity });
      const outcome = await handshake(impostor);
      // With a copied name OpenSSL finds our CA, then the signature does not verify.
      expect(outcome.server, subject).toEqual({ authorized: false, error: expect.stringMatching(/^UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT_LOCALLY)$/) });
      expect(outcome.clientReceived).toBe('');
    }
  });

  it('refuses an expired client certificate from the development CA', async () => {
    const ca = { cert: await readFile(files.caCert, 'utf8'), key: await readFile(files.caKey, 'utf8') };
    const now = Date.now();
    const expired = await issueCertificate({
      issuer: ca, subject: 'CN=bank-alpha,O=Alpha Bank AG,C=DE', kind: 'client', notBefore: new Date(now - 10 * DAY_MS), notAfter: new Date(now - DAY_MS),
    });
    const outcome = await handshake(expired);
    expect(outcome.server).toEqual({ authorized: false, error: 'CERT_HAS_EXPIRED' });
    expect(outcome.clientReceived).toBe('');
  });

  it('lets a valid certificate for an unregistered subject through TLS, for the registry to refuse', async () => {
    const ca = { cert: await readFile(files.caCert, 'utf8'), key: await readFile(files.caKey, 'utf8') };
    const now = Date.now();
    const stranger = await issueCertificate({
      issuer: ca, subject: 'CN=bank-omega,O=Omega Bank,C=FR', kind: 'client', notBefore: new Date(now - DAY_MS), notAfter: new Date(now + DAY_MS),
    });
    const outcome = await handshake(stranger);
    expect(outcome.server).toEqual({ authorized: true, peerSubject: 'C=FR\nO=Omega Bank\nCN=bank-omega' });
    const registry = parsePartnerRegistry(await json(files.registry));
    expect(registry.byCertificateSubject('C=FR\nO=Omega Bank\nCN=bank-omega')).toBeUndefined();
  });
});

describe('certs/README.md', () => {
  it('lists every development partner as DEV_PARTNERS defines it', async () => {
    const readme = await readFile(join(REPO, 'certs/README.md'), 'utf8');
    const rows = readme.split('\n').filter((line) => line.startsWith('| `bank-'));
    expect(rows).toEqual(DEV_PARTNERS.map((p) => `| \`${p.clientId}\` | ${p.name} | ${p.country} | ${p.bics.join(', ')} | ${p.scopes.join(', ')} | `
      + `${p.tokenEndpointAuth} | ${p.tokenBinding === 'dpop' ? 'DPoP' : 'mTLS'} |`));
  });
});

describe('isogw certs', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'isogw-certs-cli-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });
  const isogw = (...args: string[]) => spawnSync(process.execPath, ['src/cli/main.ts', ...args], { cwd: REPO, encoding: 'utf8' });

  it('creates the PKI in --out DIR with one line per file, then reuses every file', () => {
    const first = isogw('certs', '--out', dir);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    const lines = first.stdout.trim().split('\n');
    expect(lines.filter((l) => /^created\s+\//.test(l))).toHaveLength(DEFAULT_FILE_COUNT);
    expect(lines).toContain(`created  ${join(dir, 'ca-cert.pem')}`);
    expect(lines).toContain(`created  ${join(dir, 'partners', 'bank-beta', 'client-key.pem')}`);
    expect(lines.at(-1)).toMatch(/development PKI ready in .* \(development only/);

    const second = isogw('certs', '--out', dir);
    expect(second.status).toBe(0);
    expect(second.stdout.trim().split('\n').filter((l) => l.startsWith('reused '))).toHaveLength(DEFAULT_FILE_COUNT);
  });

  it('exits 2 on a usage error and 3 when the directory cannot be written, without a stack trace', async () => {
    const usage = isogw('certs', '--nope');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/^isogw: /);
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, '');
    const unwritable = isogw('certs', '--out', join(blocker, 'pki'));
    expect(unwritable.status).toBe(3);
    expect(unwritable.stderr).toMatch(/^isogw certs: cannot set up the development PKI in .*: ENOTDIR/);
    for (const result of [usage, unwritable]) expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
