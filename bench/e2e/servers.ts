/**
 * The processes under test, one child process per role (forked by children.ts), so each has its own event loop and
 * its own CPU and memory figures, and none shares a thread with the load generator:
 *
 *   gateway  — the real gateway exactly as production starts it: `gatewayConfigFromEnv()` over ISOGW_* variables,
 *              then `startGateway`, as `node src/server.ts` does. The one addition is a Redis key prefix (the
 *              GatewayOverrides option the tests use), so the run's replay and idempotency keys can be removed
 *              afterwards without touching anyone else's on a shared Redis.
 *   authz    — the real authorization server (src/authz/server.ts) on the bench PKI, production token lifetime.
 *   baseline — the framework + TLS floor: a bare Fastify HTTPS server on the same certificates (TLS 1.3, client
 *              certificate required and verified in the handshake), whose one route reads the body and answers a
 *              fixed pacs.002 — no authentication, no XML, no Redis, no database.
 *
 *   node bench/e2e/servers.ts <role> '<json settings>'      (only ever started by children.ts)
 *
 * Over the IPC channel the child sends {type:'ready', …} once listening and exits on {type:'close'} (or when the
 * parent goes away), removing its Redis keys first.
 */
import { readFileSync } from 'node:fs';

import Fastify from 'fastify';
import { Redis } from 'ioredis';

import { loadAuthorizationServerKeyMaterial } from '../../src/authz/key-material.ts';
import { startAuthorizationServer } from '../../src/authz/server.ts';
import { gatewayConfigFromEnv } from '../../src/config/gateway-config.ts';
import { loadPartnerRegistry } from '../../src/partners/registry.ts';
import { startGateway } from '../../src/server.ts';
import type { ChildReady, ChildRole, ChildSettings } from './children.ts';
import { INTAKE_PATH } from './request-factory.ts';

interface Running {
  readonly ready: ChildReady;
  close(): Promise<void>;
}

async function startGatewayRole(settings: ChildSettings): Promise<Running> {
  // Production configuration path: every setting from the environment the parent prepared (ISOGW_*, DATABASE_URL).
  const config = gatewayConfigFromEnv(process.env);
  const prefix = `${settings.redisKeyPrefix}gateway:`;
  const gateway = await startGateway(config, { redisKeyPrefix: prefix });
  return {
    ready: { type: 'ready', role: 'gateway', port: gateway.port },
    close: async () => {
      await gateway.close();
      const redis = new Redis(settings.redisUrl, { maxRetriesPerRequest: 1 });
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    },
  };
}

async function startAuthzRole(settings: ChildSettings): Promise<Running> {
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
    gatewayAudience: settings.gatewayOrigin,
    ...(settings.accessTokenTtlSeconds === undefined ? {} : { accessTokenTtlSeconds: settings.accessTokenTtlSeconds }),
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

async function startBaselineRole(settings: ChildSettings): Promise<Running> {
  const { pki } = settings;
  const answer = settings.baselineAnswer;
  if (answer === undefined) throw new Error('the baseline needs the pacs.002 it answers');
  const app = Fastify({
    logger: false,
    https: {
      key: readFileSync(pki.serverKey, 'utf8'),
      cert: readFileSync(pki.serverCert, 'utf8'),
      ca: readFileSync(pki.caCert, 'utf8'),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    },
  });
  // The body is read whole, as the gateway reads it, and then ignored.
  app.addContentTypeParser('application/xml', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.post(INTAKE_PATH, async (_request, reply) => reply.code(200).header('content-type', 'application/xml; charset=utf-8').send(answer));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { ready: { type: 'ready', role: 'baseline', port }, close: () => app.close() };
}

/** SCAN + DEL, so a shared Redis is not blocked. */
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
  const role = process.argv[2] as ChildRole;
  const settings = JSON.parse(process.argv[3] ?? '{}') as ChildSettings;
  const starters: Record<ChildRole, (s: ChildSettings) => Promise<Running>> = {
    gateway: startGatewayRole,
    authz: startAuthzRole,
    baseline: startBaselineRole,
  };
  const start = starters[role];
  if (start === undefined || process.send === undefined) {
    process.stderr.write('bench/e2e/servers.ts is started by bench/e2e/run.ts over IPC\n');
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
      // process.exit, not a natural end: --cpu-prof writes its profile on exit either way.
      process.exit(0);
    }
  };
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'close') void shutdown();
  });
  process.on('disconnect', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  // Ctrl-C reaches the whole process group: close cleanly (Redis keys, profile) instead of dying mid-request.
  process.on('SIGINT', () => void shutdown());
  process.send(running.ready);
}
