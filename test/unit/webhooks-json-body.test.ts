/**
 * readJsonBody, the webhook API's strict body reader: what it accepts, and every refusal with its code — the bytes
 * an HTTP client in a test cannot easily send (invalid UTF-8, a body without end, one without Content-Length).
 */
import { describe, expect, it } from 'vitest';

import { isJsonMediaType, readJsonBody, WEBHOOK_API_BODY_LIMITS } from '../../src/routes/webhooks-json-body.ts';

async function* chunks(...parts: (string | Uint8Array)[]): AsyncIterable<Uint8Array> {
  for (const part of parts) yield typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
}

const FIELDS = { fields: ['url', 'eventTypes'], required: true } as const;
/** A request as the route hands it over; `null` sends no Content-Type at all. */
const json = (body: AsyncIterable<Uint8Array> | undefined, contentType: string | null = 'application/json', contentLength?: number) => ({
  contentType: contentType ?? undefined,
  contentLength,
  body,
});

describe('readJsonBody', () => {
  it('reads a JSON object split over chunks, multi-byte characters included', async () => {
    const bytes = Buffer.from('{"url":"https://hooks.bank.example/é→"}', 'utf8');
    const outcome = await readJsonBody(json(chunks(bytes.subarray(0, 27), bytes.subarray(27))), FIELDS);
    expect(outcome).toEqual({ kind: 'read', fields: { url: 'https://hooks.bank.example/é→' } });
  });

  it('takes an empty body as {} when the body is optional, whatever the content type says', async () => {
    const optional = { fields: ['overlapSeconds'], required: false };
    expect(await readJsonBody(json(undefined, null), optional)).toEqual({ kind: 'read', fields: {} });
    expect(await readJsonBody(json(chunks(), null, 0), optional)).toEqual({ kind: 'read', fields: {} });
    expect(await readJsonBody(json(chunks()), optional)).toEqual({ kind: 'read', fields: {} });
  });

  it.each([
    ['an empty required body', json(chunks()), 'invalid_json', /must be a JSON object: an object with "url", "eventTypes"/],
    ['bytes that are not UTF-8', json(chunks(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]))), 'invalid_json', /not UTF-8/],
    ['a truncated object', json(chunks('{"url": "x"')), 'invalid_json', /not JSON/],
    ['a string', json(chunks('"https://hooks.bank.example"')), 'invalid_json', /must be a JSON object/],
    ['an array', json(chunks('[{"url":"x"}]')), 'invalid_json', /must be a JSON object/],
    ['an unknown field', json(chunks('{"url":"x","secret":"mine"}')), 'unknown_field', /unknown field "secret"; accepted fields: url, eventTypes/],
    ['__proto__ as a field', json(chunks('{"__proto__":{"admin":true}}')), 'unknown_field', /"__proto__"/],
    ['a body without a content type', json(chunks('{"url":"x"}'), null), 'unsupported_media_type', /application\/json/],
    ['text/plain', json(chunks('{"url":"x"}'), 'text/plain'), 'unsupported_media_type', /application\/json/],
    ['a declared length over the limit', json(chunks('{}'), 'application/json', WEBHOOK_API_BODY_LIMITS.bodyBytesMax + 1), 'payload_too_large', /16384 bytes/],
    ['an undeclared length over the limit', json(chunks('{"url":"', 'x'.repeat(WEBHOOK_API_BODY_LIMITS.bodyBytesMax), '"}')), 'payload_too_large', /16384 bytes/],
  ])('refuses %s', async (_name, request, error, description) => {
    const outcome = await readJsonBody(request, FIELDS);
    expect(outcome).toMatchObject({ kind: 'refused', error });
    expect(outcome.kind === 'refused' ? outcome.description : '').toMatch(description);
  });

  it('says so when a route takes no fields at all', async () => {
    const outcome = await readJsonBody(json(chunks('{"force":true}')), { fields: [], required: false });
    expect(outcome).toEqual({ kind: 'refused', error: 'unknown_field', description: 'unknown field "force"; this request takes no fields' });
  });

  it('gives up on a body that never ends, after the time limit', async () => {
    let released: (() => void) | undefined;
    const endless: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<Uint8Array>>((resolve) => (released = () => resolve({ done: true, value: undefined }))),
        return: async () => ({ done: true, value: undefined }),
      }),
    };
    const outcome = await readJsonBody(json(endless), { ...FIELDS, limits: { ...WEBHOOK_API_BODY_LIMITS, bodyReadMs: 20 } });
    expect(outcome).toEqual({ kind: 'refused', error: 'body_timeout', description: 'the body must arrive within 20 ms' });
    released?.();
  });

  it('reports a body that broke off as incomplete_body', async () => {
    const broken: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('aborted')) }),
    };
    expect(await readJsonBody(json(broken), FIELDS)).toEqual({ kind: 'refused', error: 'incomplete_body', description: 'the request body could not be read: aborted' });
  });
});

describe('isJsonMediaType', () => {
  it.each([
    ['application/json', true],
    ['Application/JSON', true],
    ['application/json; charset=utf-8', true],
    ['application/json;charset="UTF-8"', true],
    ['application/json; charset=latin1', false],
    ['application/json; boundary=x', false],
    ['application/merge-patch+json', false],
    ['text/json', false],
    ['', false],
  ])('%j → %s', (type, expected) => {
    expect(isJsonMediaType(type)).toBe(expected);
  });
});
