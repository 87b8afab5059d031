/**
 * `POST /iso20022/pacs.008` — thin: turn the Fastify request into the intake's framework-free view, hand over the
 * unread body, send what the pipeline answers.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';

import type { IntakeRequest } from '../payments/intake.ts';
import type { IntakeResponse } from '../payments/responses.ts';
import type { AuthRequest } from '../security/authenticate.ts';

export function authRequestOf(request: FastifyRequest, now: Date): AuthRequest {
  const raw = request.raw;
  // RFC 9112 §3.2.2: a server must accept an absolute-form target (`POST https://host/path`). Only its path and
  // query matter to us; the origin of a DPoP htu always comes from configuration, never from the request.
  const target = raw.url ?? '/';
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? URL.parse(target) : null;
  const url = absolute === null ? target : `${absolute.pathname}${absolute.search}`;
  const queryAt = url.indexOf('?');
  return {
    method: raw.method ?? 'GET',
    path: queryAt === -1 ? url : url.slice(0, queryAt),
    query: queryAt === -1 ? '' : url.slice(queryAt + 1),
    rawHeaders: raw.rawHeaders,
    headers: raw.headers,
    socket: raw.socket,
    now,
  };
}

export interface IntakeRouteOptions {
  readonly intake: (request: IntakeRequest) => Promise<IntakeResponse>;
  readonly now: () => Date;
}

export async function intakeRoute(app: FastifyInstance, options: IntakeRouteOptions): Promise<void> {
  // Hand the body over unread, whatever its declared type: the pipeline authenticates first, then reads it with
  // its own byte limit and answers a wrong media type itself (with a documented body, after authentication).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  app.post('/iso20022/pacs.008', async (request, reply) => {
    const length = request.headers['content-length'];
    const response = await options.intake({
      auth: authRequestOf(request, options.now()),
      contentType: request.headers['content-type'],
      contentLength: length === undefined ? undefined : Number(length),
      body: request.body as Readable | undefined,
      // headersDistinct keeps repeated fields apart (Node would join them with ", " into what looks like one key)
      idempotencyKey: request.raw.headersDistinct['idempotency-key'],
    });
    return reply.code(response.status).headers(response.headers).send(response.body);
  });
}
