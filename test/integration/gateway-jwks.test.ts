/**
 * The gateway's view of the authorization server's keys: fetched over TLS, cached, refetched at most once per
 * cooldown when a token names an unknown kid, and — when the keys cannot be fetched at all — every request refused
 * with 503, never let through and never a 500. A small HTTPS server in front of the real AS counts the fetches.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';

import { SignJWT } from 'jose';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectAccepted, expectRefused, type Matrix, sendMatrix, startMatrix, validDpopRequest } from '../support/auth-matrix.ts';
import { freePort, newKey, startTestGateway, type TestGateway } from '../support/gateway.ts';

let matrix: Matrix;
let keySetServer: Server;
let keySetUrl: string;
let fetches = 0;
let gateway: TestGateway;

beforeAll(async () => {
  matrix = await startMatrix();
  const ca = readFileSync(matrix.as.pki.caCert, 'utf8');
  const upstream = new Agent({ connect: { ca } });
  keySetServer = createServer({ cert: readFileSync(matrix.as.pki.serverCert), key: readFileSync(matrix.as.pki.serverKey) }, (req, res) => {
    fetches += 1;
    void request(`${matrix.as.issuer}/jwks`, { dispatcher: upstream }).then(async (answer) => {
      res.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(await answer.body.text());
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => keySetServer.listen(port, '127.0.0.1', resolve));
  keySetUrl = `https://localhost:${port}/jwks`;
  gateway = await startTestGateway(matrix.as, { authorizationServer: { issuer: matrix.as.issuer, jwksUri: new URL(keySetUrl), ca } });
  matrix.track(upstream);
});

afterAll(async () => {
  await gateway?.close();
  await new Promise((resolve) => keySetServer?.close(resolve));
  await matrix?.close();
});

/** A valid bank-alpha request, aimed at the gateway of this file (the one behind the counting key-set server). */
async function requestToThisGateway(spoil: Parameters<typeof validDpopRequest>[1] = {}) {
  const built = await validDpopRequest({ ...matrix, gateway }, spoil);
  return built.request;
}

describe('the authorization server key set at the gateway', () => {
  it('is fetched once and then served from the cache', async () => {
    const before = fetches;
    for (let i = 0; i < 3; i += 1) expectAccepted(await sendMatrix(await requestToThisGateway()));
    expect(fetches - before).toBeLessThanOrEqual(1);
    const settled = fetches;
    expectAccepted(await sendMatrix(await requestToThisGateway()));
    expect(fetches).toBe(settled);
  });

  it('is refetched at most once when tokens name unknown kids, however many arrive', async () => {
    expectAccepted(await sendMatrix(await requestToThisGateway())); // cache warm
    const before = fetches;
    const stranger = await newKey('ES256');
    for (let i = 0; i < 5; i += 1) {
      const forged = await requestToThisGateway({
        tokenHeader: { kid: `rotated-${i}` },
        signToken: (jwt: SignJWT) => jwt.sign(stranger.privateKey),
      });
      expectRefused(await sendMatrix(forged), { status: 401, error: 'invalid_token', scheme: 'DPoP', because: 'key' });
    }
    expect(fetches - before).toBeLessThanOrEqual(1);
  });
});

describe('when the key set cannot be fetched', () => {
  it('refuses with 503 temporarily_unavailable (fail closed), not 200 and not 500', async () => {
    const unreachable = await startTestGateway(matrix.as, {
      authorizationServer: { issuer: matrix.as.issuer, jwksUri: new URL(`https://localhost:${await freePort()}/jwks`), ca: readFileSync(matrix.as.pki.caCert, 'utf8') },
    });
    try {
      const answer = await sendMatrix((await validDpopRequest({ ...matrix, gateway: unreachable })).request);
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'temporarily_unavailable' });
      expect(answer.headers['retry-after']).toBeDefined();
      expect(answer.headers['cache-control']).toBe('no-store');
    } finally {
      await unreachable.close();
    }
  });
});
