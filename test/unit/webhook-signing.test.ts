/**
 * Standard Webhooks signatures as partners will check them: every v1 signature is verified with the published
 * `standardwebhooks` library (not with our own code), v1a with verifyAsymmetric, and anything altered — body, id,
 * timestamp, secret — fails.
 */
import { createPrivateKey } from 'node:crypto';

import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';

import {
  formatPublicKey,
  formatSecret,
  generateSigningKeys,
  type SigningKey,
  signatureHeader,
  signedContent,
  verifyAsymmetric,
  webhookHeaders,
} from '../../src/webhooks/signing.ts';

const BODY = JSON.stringify({ type: 'payment.settled', uetr: 'eb6305c9-1f7f-49de-aed0-16487c27b42d', amount: { currency: 'EUR', minor: '125050' } });
const ID = 'msg_2Lb5m6C4gqbT9vKqJ3dSx1';
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('webhook signing', () => {
  it('signs `${id}.${timestamp}.${body}` with HMAC-SHA256: the Standard Webhooks specification\'s test vector', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const key: SigningKey = { scheme: 'v1', secret: Buffer.from(secret.slice('whsec_'.length), 'base64') };
    expect(formatSecret(key.secret)).toBe(secret);
    expect(signedContent('msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe('msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}');
    expect(signatureHeader([key], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('produces headers the standardwebhooks library verifies, and it returns the parsed body', () => {
    const { v1, v1a } = generateSigningKeys();
    const headers = webhookHeaders([v1, v1a], ID, nowSeconds(), BODY);
    expect(headers['content-type']).toBe('application/json');
    expect(headers['webhook-id']).toBe(ID);
    expect(headers['webhook-timestamp']).toMatch(/^\d+$/);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=* v1a,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(formatSecret(v1.secret)).verify(BODY, headers)).toEqual(JSON.parse(BODY));
  });

  it('generates a 32-byte HMAC secret and an Ed25519 pair (PKCS#8 private key, raw 32-byte public key)', () => {
    const { v1, v1a } = generateSigningKeys();
    expect(v1).toMatchObject({ scheme: 'v1' });
    expect(v1.secret).toHaveLength(32);
    expect(v1.publicKey).toBeUndefined();
    expect(v1a.scheme).toBe('v1a');
    expect(v1a.publicKey).toHaveLength(32);
    expect(createPrivateKey({ key: Buffer.from(v1a.secret), format: 'der', type: 'pkcs8' }).asymmetricKeyType).toBe('ed25519');
    expect(generateSigningKeys().v1.secret).not.toEqual(v1.secret);
  });

  it('formats the secret as whsec_ + base64 and the public key as whpk_ + base64', () => {
    const { v1, v1a } = generateSigningKeys();
    expect(formatSecret(v1.secret)).toBe(`whsec_${Buffer.from(v1.secret).toString('base64')}`);
    expect(formatPublicKey(v1a.publicKey!)).toBe(`whpk_${Buffer.from(v1a.publicKey!).toString('base64')}`);
  });

  it('signs with every key given, in order: the library verifies with either secret of a rotation overlap', () => {
    const old = generateSigningKeys();
    const fresh = generateSigningKeys();
    const headers = webhookHeaders([fresh.v1, fresh.v1a, old.v1, old.v1a], ID, nowSeconds(), BODY);
    expect(headers['webhook-signature']!.split(' ').map((s) => s.split(',')[0])).toEqual(['v1', 'v1a', 'v1', 'v1a']);
    expect(new Webhook(formatSecret(old.v1.secret)).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(new Webhook(formatSecret(fresh.v1.secret)).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(verifyAsymmetric(formatPublicKey(old.v1a.publicKey!), headers, BODY)).toBe(true);
    expect(verifyAsymmetric(formatPublicKey(fresh.v1a.publicKey!), headers, BODY)).toBe(true);
  });

  it('verifies v1a with the whpk_ public key (header names in any case)', () => {
    const { v1a } = generateSigningKeys();
    const headers = webhookHeaders([v1a], ID, nowSeconds(), BODY);
    expect(verifyAsymmetric(formatPublicKey(v1a.publicKey!), headers, BODY)).toBe(true);
    const shouted = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verifyAsymmetric(formatPublicKey(v1a.publicKey!), shouted, BODY)).toBe(true);
  });

  it('v1a: a tampered body, another id, another key, a stale or future timestamp, a v1-only header all fail', () => {
    const { v1, v1a } = generateSigningKeys();
    const publicKey = formatPublicKey(v1a.publicKey!);
    const now = nowSeconds();
    const headers = webhookHeaders([v1a], ID, now, BODY);
    expect(verifyAsymmetric(publicKey, headers, `${BODY} `)).toBe(false);
    expect(verifyAsymmetric(publicKey, { ...headers, 'webhook-id': 'msg_other' }, BODY)).toBe(false);
    expect(verifyAsymmetric(formatPublicKey(generateSigningKeys().v1a.publicKey!), headers, BODY)).toBe(false);
    expect(verifyAsymmetric(publicKey, webhookHeaders([v1a], ID, now - 301, BODY), BODY)).toBe(false);
    expect(verifyAsymmetric(publicKey, webhookHeaders([v1a], ID, now + 301, BODY), BODY)).toBe(false);
    expect(verifyAsymmetric(publicKey, webhookHeaders([v1a], ID, now - 290, BODY), BODY)).toBe(true);
    expect(verifyAsymmetric(publicKey, webhookHeaders([v1], ID, now, BODY), BODY)).toBe(false);
    expect(verifyAsymmetric(publicKey, { ...headers, 'webhook-signature': 'v1a,not-base64!!' }, BODY)).toBe(false);
    const { 'webhook-timestamp': _dropped, ...withoutTimestamp } = headers;
    expect(verifyAsymmetric(publicKey, withoutTimestamp, BODY)).toBe(false);
  });

  it('v1a checks the timestamp against the `now` it is given', () => {
    const { v1a } = generateSigningKeys();
    const signedAt = 1_700_000_000;
    const headers = webhookHeaders([v1a], ID, signedAt, BODY);
    const publicKey = formatPublicKey(v1a.publicKey!);
    expect(verifyAsymmetric(publicKey, headers, BODY, new Date((signedAt + 60) * 1000))).toBe(true);
    expect(verifyAsymmetric(publicKey, headers, BODY, new Date((signedAt + 6 * 60) * 1000))).toBe(false);
  });

  it('refuses a malformed public key as a caller mistake', () => {
    expect(() => verifyAsymmetric('whsec_AAAA', {}, BODY)).toThrow(TypeError);
    expect(() => verifyAsymmetric('whpk_AAAA', {}, BODY)).toThrow(TypeError);
  });

  describe('what the standardwebhooks library refuses', () => {
    const { v1 } = generateSigningKeys();
    const webhook = new Webhook(formatSecret(v1.secret));

    it('a tampered body', () => {
      const headers = webhookHeaders([v1], ID, nowSeconds(), BODY);
      expect(() => webhook.verify(BODY.replace('125050', '925050'), headers)).toThrow(/No matching signature/);
    });

    it('another webhook-id (a replay of the signature on another event)', () => {
      const headers = webhookHeaders([v1], ID, nowSeconds(), BODY);
      expect(() => webhook.verify(BODY, { ...headers, 'webhook-id': 'msg_other' })).toThrow(/No matching signature/);
    });

    it('a wrong secret', () => {
      const headers = webhookHeaders([generateSigningKeys().v1], ID, nowSeconds(), BODY);
      expect(() => webhook.verify(BODY, headers)).toThrow(/No matching signature/);
    });

    it('a timestamp older than 5 minutes, even correctly signed', () => {
      const headers = webhookHeaders([v1], ID, nowSeconds() - 6 * 60, BODY);
      expect(() => webhook.verify(BODY, headers)).toThrow(/too old/);
    });

    it('a v1a-only header (the library knows only v1)', () => {
      const headers = webhookHeaders([generateSigningKeys().v1a], ID, nowSeconds(), BODY);
      expect(() => webhook.verify(BODY, headers)).toThrow(/No matching signature/);
    });
  });

  it('will not sign without a key, or with a timestamp that is not whole seconds', () => {
    const { v1 } = generateSigningKeys();
    expect(() => signatureHeader([], ID, nowSeconds(), BODY)).toThrow(TypeError);
    expect(() => signatureHeader([v1], ID, Date.now() / 1000, BODY)).toThrow(TypeError);
    expect(() => signedContent(ID, -1, BODY)).toThrow(TypeError);
  });

  it('signs the body as UTF-8 (non-ASCII names in a payload verify)', () => {
    const { v1, v1a } = generateSigningKeys();
    const body = JSON.stringify({ debtor: 'Zoë Müller — 東京' });
    const headers = webhookHeaders([v1, v1a], ID, nowSeconds(), body);
    expect(new Webhook(formatSecret(v1.secret)).verify(body, headers)).toEqual(JSON.parse(body));
    expect(verifyAsymmetric(formatPublicKey(v1a.publicKey!), headers, body)).toBe(true);
  });
});
