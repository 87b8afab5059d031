/**
 * The servers under test, one child process per role (forked by children.ts), so that each has its own event loop
 * and its own process.cpuUsage(), as in production, and none shares a thread with the load-generating client:
 *
 *   baseline — a bare node:https server, TLS 1.3, the client certificate demanded and verified against the dev CA
 *              in the handshake (requestCert + rejectUnauthorized), answering a fixed JSON body of the same shape
 *              and size as the gateway's `GET /partners/me`; plus a plain node:http listener in the same process
 *              (no TLS at all), the reference for "what does (m)TLS add".
 *   authz    — the real authorization server (src/authz/server.ts) on the dev PKI; idle while timing runs.
 *   gateway  — the real gateway (src/server.ts, startGateway), the whole auth stack in front of /partners/me.
 *
 *   node bench/handshake/servers.ts <role> '<json settings>'     (only ever started by children.ts)
 *
 * Protocol over the IPC channel: the child sends {type:'ready', …} once listening; it answers
 * {type:'cpu', id} with {type:'cpu', id, micros} (user + system CPU of this process so far) and exits on
 * {type:'close'} (or when the parent goes away), removing its Redis keys first.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

import { Redis } from 'ioredis';

import { loadAuthorizationServerKeyMaterial } from '../../src/authz/key-material.ts';
import { startAuthorizationServer } from '../../src/authz/server.ts';
import { DEFAULT_DATABASE_URL, type GatewayConfig } from '../../src/config/gateway-config.ts';
import { loadPartnerRegistry } from '../../src/partners/registry.ts';
import { SECURITY_LIMITS } from '../../src/security/limits.ts';
import { startGateway } from '../../src/server.ts';
import { BENCH_TOKEN_TTL_SECONDS, PARTNER_SELF_BODY, type ChildSettings, type ReadyMessage, type Role } from './protocol.ts';

async function startBaseline(settings: ChildSettings): Promise<{ ready: ReadyMessage; close: () => Promise<void> }> {
  const body = Buffer.from(PARTNER_SELF_BODY);
  const answer = (_request: IncomingMessage, response: ServerResponse): void => {
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store' });
    response.end(body);
  };
  // The same TLS settings as the gateway's (src/app.ts) in direct mode: TLS 1.3, the client certificate required
  // and verified against the partner CA during the handshake. Node's default session tickets stay on, as there.
  const https = createHttpsServer(
    {
      cert: readFileSync(settings.pki.serverCert, 'utf8'),
      key: readFileSync(settings.pki.serverKey, 'utf8'),
      ca: readFileSync(settings.pki.caCert, 'utf8'),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      // Fastify's default, so an idle keep-alive connection lives as long on both servers.
      keepAliveTimeout: 72_000,
    },
    answer,
  );
  const plain = createHttpServer({ keepAliveTimeout: 72_000 }, answer);
  const listen = (server: typeof https | typeof plain): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const [httpsPort, plainPort] = [await listen(https), await listen(plain)];
  return {
    ready: { type: 'ready', role: 'baseline', httpsPort, plainPort },
    close: async () => {
      for (const server of [https, plain]) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}

async function startAuthz(settings: ChildSettings): Promise<{ ready: ReadyMessage; close: () => Promise<void> }> {
  const { pki } = settings;
  const keys = await loadAuthorizationServerKeyMaterial({ signingKeysFile: pki.authzSigningKeys, secretsFile: pki.authzSecrets });
  const redis = new Redis(settings.redisUrl, { maxRetriesPerRequest: 1 });
  const keyPrefix = `${settings.redisKeyPrefix}authz:`;
  const server = await startAuthorizationServer({
    registry: loadPartnerRegistry(pki.registry),
    signingKeys: keys.signingKeys,
    cookieKeys: keys.cookieKeys,
    dpopNonceSecret: keys.dpopNonceSecret,
    requireDpopNonce: false,
    redis,
    keyPrefix,
    gatewayAudience: `https://localhost:${settings.gatewayPort}`,
    accessTokenTtlSeconds: BENCH_TOKEN_TTL_SECONDS,
    issuerPort: 0,
    mtlsPort: 0,
    tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caCert },
  });
  return {
    ready: { type: 'ready', role: 'authz', issuer: server.issuer, tokenEndpoint: `${server.issuerListenerOrigin}/token` },
    close: async () => {
      await server.close();
      await deleteKeysWithPrefix(redis, keyPrefix);
      await redis.quit();
    },
  };
}

async function startGatewayRole(settings: ChildSettings): Promise<{ ready: ReadyMessage; close: () => Promise<void> }> {
  const { pki, issuer } = settings;
  if (issuer === undefined) throw new Error('the gateway role needs the issuer');
  const ca = readFileSync(pki.caCert, 'utf8');
  const origin = `https://localhost:${settings.gatewayPort}`;
  const config: GatewayConfig = Object.freeze({
    listen: { host: '127.0.0.1', port: settings.gatewayPort },
    externalOrigin: new URL(origin),
    tls: { certificate: readFileSync(pki.serverCert, 'utf8'), privateKey: readFileSync(pki.serverKey, 'utf8'), clientCa: ca, minVersion: 'TLSv1.3' as const },
    clientCertificate: { source: 'tls' as const },
    authorizationServer: { issuer, jwksUri: new URL(`${issuer}/jwks`), ca },
    audience: origin,
    partnersFile: pki.registry,
    redisUrl: settings.redisUrl,
    database: { url: process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL, role: 'isogw_app' },
    limits: SECURITY_LIMITS,
    webhooks: { relay: false, allowInsecureEndpoints: false },
  });
  const keyPrefix = `${settings.redisKeyPrefix}gateway:`;
  const gateway = await startGateway(config, { redisKeyPrefix: keyPrefix });
  return {
    ready: { type: 'ready', role: 'gateway', port: gateway.port },
    close: async () => {
      await gateway.close();
      const redis = new Redis(settings.redisUrl, { maxRetriesPerRequest: 1 });
      await deleteKeysWithPrefix(redis, keyPrefix);
      await redis.quit();
    },
  };
}

/** SCAN + DEL, so a shared Redis is not blocked (the replay keys would expire after 80 s anyway). */
async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

if (import.meta.main) {
  const role = process.argv[2] as Role;
  const settings = JSON.parse(process.argv[3] ?? '{}') as ChildSettings;
  const starters: Record<Role, (s: ChildSettings) => Promise<{ ready: ReadyMessage; close: () => Promise<void> }>> = {
    baseline: startBaseline,
    authz: startAuthz,
    gateway: startGatewayRole,
  };
  const start = starters[role];
  if (start === undefined || process.send === undefined) {
    process.stderr.write('bench/handshake/servers.ts is started by bench/handshake/run.ts over IPC\n');
    process.exit(2);
  }
  const running = await start(settings);
  let closing = false;
  const shutdown = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    try {
      await running.close();
    } finally {
      process.exit(0);
    }
  };
  process.on('message', (message: { type: string; id?: number }) => {
    if (message.type === 'cpu') {
      const usage = process.cpuUsage();
      process.send?.({ type: 'cpu', id: message.id, micros: usage.user + usage.system });
    } else if (message.type === 'close') {
      void shutdown();
    }
  });
  process.on('disconnect', () => void shutdown());
  process.send(running.ready);
}
