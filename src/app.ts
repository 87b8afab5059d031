/**
 * The gateway as a Fastify application: plugins and routes registered in flow order. `server.ts` owns the process
 * (config, listen, shutdown); this file owns what a request meets.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';

import { type GatewayConfig, TLS12_BCP195_CIPHERS } from './config/gateway-config.ts';
import { correlationOf, formatTraceparent } from './observability/correlation.ts';
import { silentTelemetry, type Telemetry } from './observability/telemetry.ts';
import type { IntakeRequest } from './payments/intake.ts';
import type { PaymentReads } from './payments/read-model.ts';
import type { IntakeResponse } from './payments/responses.ts';
import type { RateLimitCheck } from './ratelimit/rate-limit-check.ts';
import { intakeRoute } from './routes/intake.ts';
import { partnerSelfRoute } from './routes/partner-self.ts';
import { paymentsReadRoute } from './routes/payments-read.ts';
import { type WebhookApiDependencies, webhooksRoute } from './routes/webhooks.ts';
import type { Authenticator } from './security/authenticate.ts';

export interface GatewayDependencies {
  readonly authenticate: Authenticator;
  readonly intake: (request: IntakeRequest) => Promise<IntakeResponse>;
  readonly now: () => Date;
  readonly reads: PaymentReads;
  /** The partners' webhook API (routes/webhooks.ts); without it those routes do not exist. */
  readonly webhooks?: WebhookApiDependencies;
  /** Logs and the request correlation scope (default: silent). The intake must share it to log with the request's ids. */
  readonly telemetry?: Telemetry;
  /** The per-partner rate limit of the JSON routes (the intake gets its own through `intake`); undefined = none. */
  readonly rateLimit?: RateLimitCheck | undefined;
}

export function buildApp(config: GatewayConfig, deps: GatewayDependencies): FastifyInstance {
  const directTls = config.clientCertificate.source === 'tls';
  const telemetry = deps.telemetry ?? silentTelemetry();
  // As Fastify's base logger type: the app's type stays the plain FastifyInstance its plugins are written against.
  const loggerInstance: FastifyBaseLogger = telemetry.logger;
  const app = Fastify({
    // Fastify's own lines (errors) go to our logger; a line per request is the intake's to write, with its outcome.
    loggerInstance,
    logController: new LogController({ disableRequestLogging: true }),
    // Behind a TLS-terminating proxy we trust forwarded addresses only from the configured proxies.
    trustProxy: config.clientCertificate.source === 'proxy-header' ? [...config.clientCertificate.trustedProxies] : false,
    https: {
      key: config.tls.privateKey,
      cert: config.tls.certificate,
      ca: config.tls.clientCa,
      // Only mutual-TLS connections exist in direct mode: the client certificate is demanded and verified against
      // our CA during the handshake, before any HTTP is parsed.
      requestCert: directTls,
      rejectUnauthorized: directTls,
      minVersion: config.tls.minVersion,
      ...(config.tls.minVersion === 'TLSv1.2' ? { ciphers: TLS12_BCP195_CIPHERS, honorCipherOrder: true } : {}),
    },
  });

  // The request's correlation: `x-fapi-interaction-id` (FAPI 2.0 §6.2.1: echoed when the client sent a valid UUID)
  // and our span in the W3C trace, answered as a `traceparent` to a caller that sent one (one that did not is not
  // tracing; our trace-id is still in our logs). Everything that runs for the request — hooks, handler, intake,
  // booking — runs inside the scope, so its log lines carry them (callback hook: the rest of the request is started
  // from `done`, within `run`).
  app.addHook('onRequest', (request, reply, done) => {
    const correlation = correlationOf(request.headers);
    reply.header('x-fapi-interaction-id', correlation.interactionId);
    if (correlation.parentSpanId !== undefined) reply.header('traceparent', formatTraceparent(correlation));
    telemetry.correlation.run(correlation, done);
  });

  app.setErrorHandler(async (error: { statusCode?: number; code?: string; message: string }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'unhandled error');
      return reply.code(500).header('cache-control', 'no-store').send({ error: 'server_error', error_description: 'internal error; the request changed nothing' });
    }
    return reply.code(status).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: error.message });
  });

  app.get('/health/live', async () => ({ status: 'live' }));
  const gate = { authenticate: deps.authenticate, now: deps.now, rateLimit: deps.rateLimit };
  app.register(partnerSelfRoute, gate);
  app.register(paymentsReadRoute, { ...gate, reads: deps.reads });
  if (deps.webhooks !== undefined) {
    app.register(webhooksRoute, { ...gate, reads: deps.reads, ...deps.webhooks });
  }
  app.register(intakeRoute, { intake: deps.intake, now: deps.now });
  return app;
}
