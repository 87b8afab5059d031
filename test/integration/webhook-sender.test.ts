/**
 * The webhook sender against real receivers on real sockets: what each kind of answer (2xx, 410, 429/503 with
 * Retry-After, 3xx, 5xx, a reset, silence, a huge body) becomes, TLS with our own CA, and the production guards
 * (https only, no private addresses — also when a name resolves to one).
 */
import { readFile } from 'node:fs/promises';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { WEBHOOK_LIMITS } from '../../src/webhooks/limits.ts';
import { createWebhookSender, type WebhookSender, WEBHOOK_USER_AGENT } from '../../src/webhooks/sender.ts';
import { formatSecret, generateSigningKeys, webhookHeaders } from '../../src/webhooks/signing.ts';
import { devPki } from '../support/pki.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const keys = generateSigningKeys();
const secret = formatSecret(keys.v1.secret);
const BODY = JSON.stringify({ type: 'payment.settled', uetr: 'eb6305c9-1f7f-49de-aed0-16487c27b42d', sequence: 2 });
/** Short timeouts so a silent endpoint costs the test a fraction of a second. */
const SHORT = { ...WEBHOOK_LIMITS, connectTimeoutMs: 2_000, headersTimeoutMs: 300, bodyTimeoutMs: 300 };

let receiver: WebhookReceiver;
let sender: WebhookSender;

function signed(url: string, id = `msg_${Math.random().toString(36).slice(2)}`) {
  return { url, headers: webhookHeaders([keys.v1, keys.v1a], id, Math.floor(Date.now() / 1000), BODY), body: BODY };
}

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secrets: [secret] });
  sender = createWebhookSender({ allowInsecureEndpoints: true, limits: SHORT });
});

afterEach(() => {
  receiver.setBehaviour(() => ({ status: 200 }));
});

afterAll(async () => {
  await sender?.close();
  await receiver?.close();
});

describe('webhook sender', () => {
  it('delivers on 2xx: the receiver verifies the signature with the standardwebhooks library', async () => {
    receiver.setBehaviour(() => ({ status: 204 }));
    const before = receiver.requests.length;
    const outcome = await sender.send(signed(receiver.url, 'msg_delivered'));
    expect(outcome).toMatchObject({ kind: 'delivered', status: 204, excerpt: '' });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(0);
    const request = receiver.requests[before]!;
    expect(request).toMatchObject({ id: 'msg_delivered', verified: true, payload: JSON.parse(BODY), body: BODY });
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toBe(WEBHOOK_USER_AGENT);
    expect(WEBHOOK_USER_AGENT).toMatch(/^iso20022-gateway-webhooks\/\d+\.\d+/);
    expect(receiver.delivered().map((r) => r.id)).toContain('msg_delivered');
  });

  it('keeps the start of a 2xx answer as the excerpt', async () => {
    receiver.setBehaviour(() => ({ status: 200, body: 'thanks' }));
    expect(await sender.send(signed(receiver.url))).toMatchObject({ kind: 'delivered', status: 200, excerpt: 'thanks' });
  });

  it('fails on 500, with the answer kept as the excerpt', async () => {
    receiver.setBehaviour(() => ({ status: 500, body: 'database down' }));
    expect(await sender.send(signed(receiver.url))).toMatchObject({ kind: 'failed', status: 500, error: 'HTTP 500', excerpt: 'database down', retryAfterSeconds: undefined });
  });

  it('is gone on 410', async () => {
    receiver.setBehaviour(() => ({ status: 410, body: 'endpoint retired' }));
    expect(await sender.send(signed(receiver.url))).toMatchObject({ kind: 'gone', status: 410, excerpt: 'endpoint retired' });
  });

  it('honours Retry-After in seconds on 429', async () => {
    receiver.setBehaviour(() => ({ status: 429, headers: { 'retry-after': '7' } }));
    expect(await sender.send(signed(receiver.url))).toMatchObject({ kind: 'failed', status: 429, error: 'HTTP 429', retryAfterSeconds: 7 });
  });

  it('honours Retry-After as an HTTP-date on 503', async () => {
    const at = new Date(Date.now() + 120_000);
    receiver.setBehaviour(() => ({ status: 503, headers: { 'retry-after': at.toUTCString() } }));
    const outcome = await sender.send(signed(receiver.url));
    expect(outcome).toMatchObject({ kind: 'failed', status: 503 });
    const seconds = outcome.kind === 'failed' ? outcome.retryAfterSeconds : undefined;
    expect(seconds).toBeGreaterThanOrEqual(100);
    expect(seconds).toBeLessThanOrEqual(121);
  });

  it('reads the HTTP-date against the clock it is given', async () => {
    const clocked = createWebhookSender({ allowInsecureEndpoints: true, limits: SHORT, now: () => new Date('2026-03-02T10:00:00Z') });
    try {
      receiver.setBehaviour(() => ({ status: 503, headers: { 'retry-after': 'Mon, 02 Mar 2026 10:01:30 GMT' } }));
      expect(await clocked.send(signed(receiver.url))).toMatchObject({ kind: 'failed', status: 503, retryAfterSeconds: 90 });
    } finally {
      await clocked.close();
    }
  });

  it('ignores Retry-After on other statuses and when it is garbage', async () => {
    receiver.setBehaviour(() => ({ status: 500, headers: { 'retry-after': '7' } }));
    expect(await sender.send(signed(receiver.url))).toMatchObject({ kind: 'failed', status: 500, retryAfterSeconds: undefined });
    receiver.setBehaviour(() => ({ status: 503, headers: { 'retry-after': 'tomorrow' } }));
    expect(await sender.send(signed(receiver.url))).toMatchObject({ kind: 'failed', status: 503, retryAfterSeconds: undefined });
  });

  it('never follows a redirect: 302 fails and the target is never hit', async () => {
    const target = await startWebhookReceiver({ secrets: [secret] });
    try {
      receiver.setBehaviour(() => ({ status: 302, headers: { location: target.url } }));
      expect(await sender.send(signed(receiver.url))).toMatchObject({ kind: 'failed', status: 302, error: 'redirect (302) not followed' });
      receiver.setBehaviour(() => ({ status: 307, headers: { location: target.url } }));
      expect(await sender.send(signed(receiver.url))).toMatchObject({ kind: 'failed', status: 307, error: 'redirect (307) not followed' });
      expect(target.requests).toHaveLength(0);
    } finally {
      await target.close();
    }
  });

  it('fails on a connection reset', async () => {
    receiver.setBehaviour(() => ({ reset: true }));
    const outcome = await sender.send(signed(receiver.url));
    expect(outcome).toMatchObject({ kind: 'failed', status: undefined, error: 'connection reset' });
  });

  it('fails with a headers timeout when the endpoint never answers', async () => {
    receiver.setBehaviour(() => ({ hang: true }));
    const outcome = await sender.send(signed(receiver.url));
    expect(outcome).toMatchObject({ kind: 'failed', status: undefined, error: 'timeout: headers' });
    // a lower bound, not a performance claim: the timeout did not fire early
    expect(outcome.durationMs).toBeGreaterThanOrEqual(SHORT.headersTimeoutMs - 50);
    expect(receiver.requests.at(-1)?.answer).toBe('hang');
  });

  it('fails with connection refused when nothing listens', async () => {
    const gone = await startWebhookReceiver();
    const url = gone.url;
    await gone.close();
    expect(await sender.send(signed(url))).toMatchObject({ kind: 'failed', error: 'connection refused' });
  });

  it(`cuts a huge response body to ${WEBHOOK_LIMITS.responseExcerptBytes} bytes`, async () => {
    receiver.setBehaviour(() => ({ status: 500, body: 'x'.repeat(5 * 1024 * 1024) }));
    const outcome = await sender.send(signed(receiver.url));
    expect(outcome).toMatchObject({ kind: 'failed', status: 500 });
    expect(outcome.excerpt).toBe('x'.repeat(WEBHOOK_LIMITS.responseExcerptBytes));
    // the connection is still usable afterwards (a fresh one if the cut closed it)
    receiver.setBehaviour(() => ({ status: 200 }));
    expect(await sender.send(signed(receiver.url))).toMatchObject({ kind: 'delivered' });
  });

  it('replaces NUL in the excerpt (a Postgres text column cannot hold it)', async () => {
    receiver.setBehaviour(() => ({ status: 500, body: 'a\u0000b' }));
    expect(await sender.send(signed(receiver.url))).toMatchObject({ excerpt: 'a\uFFFDb' });
  });

  it('never throws for a bad URL', async () => {
    expect(await sender.send(signed('not a url'))).toMatchObject({ kind: 'failed', error: 'refused: invalid URL' });
    expect(await sender.send(signed('ftp://127.0.0.1/x'))).toMatchObject({ kind: 'failed', error: 'refused: ftp: is not http(s)' });
  });
});

describe('webhook sender over TLS', () => {
  let tlsReceiver: WebhookReceiver;
  let ca: string;

  beforeAll(async () => {
    const pki = await devPki();
    ca = await readFile(pki.caCert, 'utf8');
    tlsReceiver = await startWebhookReceiver({ secrets: [secret], tls: { cert: await readFile(pki.serverCert, 'utf8'), key: await readFile(pki.serverKey, 'utf8') } });
  });

  afterAll(async () => {
    await tlsReceiver?.close();
  });

  it('delivers to an https endpoint whose certificate chains to the configured CA', async () => {
    const tlsSender = createWebhookSender({ allowInsecureEndpoints: true, ca, limits: SHORT });
    try {
      expect(tlsReceiver.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/hooks$/);
      expect(await tlsSender.send(signed(tlsReceiver.url, 'msg_tls'))).toMatchObject({ kind: 'delivered', status: 200 });
      expect(tlsReceiver.delivered().map((r) => r.id)).toContain('msg_tls');
    } finally {
      await tlsSender.close();
    }
  });

  it('fails with a TLS error when the certificate does not chain to a trusted CA', async () => {
    const untrusting = createWebhookSender({ allowInsecureEndpoints: true, limits: SHORT });
    try {
      const before = tlsReceiver.requests.length;
      const outcome = await untrusting.send(signed(tlsReceiver.url));
      expect(outcome).toMatchObject({ kind: 'failed', status: undefined });
      expect(outcome.kind === 'failed' && outcome.error).toMatch(/^tls: /);
      expect(tlsReceiver.requests).toHaveLength(before);
    } finally {
      await untrusting.close();
    }
  });

  describe('in production (allowInsecureEndpoints false)', () => {
    let production: WebhookSender;

    beforeAll(() => {
      production = createWebhookSender({ allowInsecureEndpoints: false, ca, limits: SHORT });
    });

    afterAll(async () => {
      await production?.close();
    });

    it('refuses plain http', async () => {
      const before = receiver.requests.length;
      expect(await production.send(signed(receiver.url))).toMatchObject({ kind: 'failed', status: undefined, error: 'refused: not https' });
      expect(receiver.requests).toHaveLength(before);
    });

    it('refuses a private IP literal before connecting', async () => {
      const before = tlsReceiver.requests.length;
      expect(await production.send(signed(tlsReceiver.url))).toMatchObject({ kind: 'failed', error: 'refused: private address 127.0.0.1' });
      expect(await production.send(signed('https://169.254.169.254/latest/meta-data/'))).toMatchObject({ kind: 'failed', error: 'refused: private address 169.254.169.254' });
      expect(await production.send(signed('https://[::ffff:10.0.0.1]/'))).toMatchObject({ kind: 'failed', error: 'refused: private address ::ffff:a00:1' });
      expect(tlsReceiver.requests).toHaveLength(before);
    });

    it('refuses a host name that resolves to a private address, at connect time (DNS guard)', async () => {
      const before = tlsReceiver.requests.length;
      const outcome = await production.send(signed(`https://localhost:${tlsReceiver.port}/hooks`));
      expect(outcome).toMatchObject({ kind: 'failed', status: undefined });
      expect(outcome.kind === 'failed' && outcome.error).toMatch(/^refused: private address (127\.0\.0\.1|::1)$/);
      expect(tlsReceiver.requests).toHaveLength(before);
    });
  });
});
