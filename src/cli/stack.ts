/**
 * `isogw stack` — the authorization server and the gateway on this machine, with the development PKI
 * (`certs/dev`, created if missing), for a partner's integration team to point a client at. The two keep their
 * own listeners and trust boundaries even in one process: the gateway knows the AS only by its JWKS URL over TLS.
 *
 * Production runs them apart: `node src/server.ts` for the gateway (configured by ISOGW_* variables, see
 * src/config/gateway-config.ts) and an AS built with `startAuthorizationServer` on its own hosts.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { Redis } from 'ioredis';
import pg from 'pg';

import { loadAuthorizationServerKeyMaterial } from '../authz/key-material.ts';
import { startAuthorizationServer } from '../authz/server.ts';
import { createDevPki } from '../certs/dev-pki.ts';
import { DEFAULT_DATABASE_URL, type GatewayConfig } from '../config/gateway-config.ts';
import { migrate } from '../db/migrate.ts';
import { loadPartnerRegistry } from '../partners/registry.ts';
import { SECURITY_LIMITS } from '../security/limits.ts';
import { startGateway } from '../server.ts';
import { EXIT, type CliIo, UsageError } from './io.ts';

export const STACK_PORTS = { gateway: 8443, issuer: 9443, mtlsAlias: 9444 } as const;

export const STACK_USAGE = `usage: isogw stack [--pki DIR] [--gateway-port N] [--issuer-port N] [--mtls-port N]

Starts the FAPI 2.0 authorization server (issuer https://localhost:${STACK_PORTS.issuer}, mTLS token alias
https://localhost:${STACK_PORTS.mtlsAlias}) and the gateway (https://localhost:${STACK_PORTS.gateway}, mutual TLS) with the
development PKI in DIR (default certs/dev, created when missing). Redis: REDIS_URL, default redis://127.0.0.1:6379.
Stops on Ctrl-C. Development only.`;

export async function runStack(args: string[], io: CliIo): Promise<number> {
  const { values } = (() => {
    try {
      return parseArgs({
        args,
        options: {
          pki: { type: 'string' },
          'gateway-port': { type: 'string' },
          'issuer-port': { type: 'string' },
          'mtls-port': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      });
    } catch (error) {
      throw new UsageError((error as Error).message, { cause: error });
    }
  })();
  if (values.help) {
    io.out(STACK_USAGE);
    return EXIT.ok;
  }
  const port = (text: string | undefined, fallback: number, flag: string): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1 || value > 65535) throw new UsageError(`--${flag} must be a port number`);
    return value;
  };
  const gatewayPort = port(values['gateway-port'], STACK_PORTS.gateway, 'gateway-port');
  const pki = await createDevPki(resolve(values.pki ?? 'certs/dev'));
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const gatewayOrigin = `https://localhost:${gatewayPort}`;

  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const keys = await loadAuthorizationServerKeyMaterial({ signingKeysFile: pki.authzSigningKeys, secretsFile: pki.authzSecrets });
  const as = await startAuthorizationServer({
    ...keys,
    requireDpopNonce: false,
    registry: loadPartnerRegistry(pki.registry),
    redis,
    keyPrefix: 'isogw:authz:',
    gatewayAudience: gatewayOrigin,
    tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caCert },
    issuerPort: port(values['issuer-port'], STACK_PORTS.issuer, 'issuer-port'),
    mtlsPort: port(values['mtls-port'], STACK_PORTS.mtlsAlias, 'mtls-port'),
  });
  const ca = readFileSync(pki.caCert, 'utf8');
  const config: GatewayConfig = Object.freeze({
    listen: { host: '127.0.0.1', port: gatewayPort },
    externalOrigin: new URL(gatewayOrigin),
    tls: { certificate: readFileSync(pki.serverCert, 'utf8'), privateKey: readFileSync(pki.serverKey, 'utf8'), clientCa: ca, minVersion: 'TLSv1.3' as const },
    clientCertificate: { source: 'tls' as const },
    authorizationServer: { issuer: as.issuer, jwksUri: new URL(`${as.issuer}/jwks`), ca },
    audience: gatewayOrigin,
    partnersFile: pki.registry,
    redisUrl,
    database: { url: process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL, role: 'isogw_app' },
    limits: SECURITY_LIMITS,
    // A development stack: partners' receivers may be plain HTTP on this machine, or https on the dev PKI.
    webhooks: { relay: true, allowInsecureEndpoints: true, ca },
  });
  // The ledger schema first: the gateway books into it from its first request.
  const owner = new pg.Pool({ connectionString: config.database.url, max: 1 });
  try {
    const report = await migrate(owner);
    if (report.applied.length > 0) io.out(`database              applied ${report.applied.join(', ')}`);
  } finally {
    await owner.end();
  }
  const gateway = await startGateway(config);

  io.out(`authorization server  ${as.issuer}  (discovery: ${as.issuer}/.well-known/openid-configuration, mTLS alias ${as.mtlsOrigin})`);
  io.out(`gateway               ${gatewayOrigin}  (mutual TLS; POST /iso20022/pacs.008, GET /partners/me)`);
  io.out(`partners and keys     ${pki.dir}  (CA: ${pki.caCert})`);
  io.out(`ledger                ${config.database.url}  (fund a partner: isogw ledger fund --bic DEUTDEFFXXX --currency EUR --amount 1000000.00)`);
  io.out('Ctrl-C stops both.');
  await new Promise<void>((resolveStop) => {
    process.once('SIGINT', resolveStop);
    process.once('SIGTERM', resolveStop);
  });
  await gateway.close();
  await as.close();
  await redis.quit();
  return EXIT.ok;
}
