/**
 * The operations listener: plain HTTP, apart from the partners' mutual-TLS listener, for what a load balancer and a
 * Prometheus server need and cannot do over mTLS (they hold no partner certificate):
 *
 *   GET /metrics       Prometheus exposition of the gateway's registry
 *   GET /health/live   200 while the process serves HTTP at all
 *   GET /health/ready  200 {status: ready, checks} when Postgres, Redis and the AS key set answer, else 503 naming
 *                      the failed checks
 *
 * It binds to loopback unless configured otherwise (ISOGW_OPS_HOST): what it reveals (counts, latencies, dependency
 * health) is for the operators' network only. With an operator page (src/operator/, on when an operator token is
 * configured) it also serves /ops/*, behind that token; without one, /ops/* is a 404 like any unknown path.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

import type { Registry } from 'prom-client';

import type { OperatorPage } from '../operator/page.ts';
import { OBSERVABILITY_LIMITS } from './limits.ts';
import { checkReadiness, type ReadinessCheck } from './readiness.ts';

export interface OpsListenerOptions {
  readonly host: string;
  /** 0 = any free port (tests). */
  readonly port: number;
  readonly registry: Registry;
  readonly readiness: readonly ReadinessCheck[];
  readonly readinessTimeoutMs?: number | undefined;
  /** Serves /ops/* (it authenticates its callers itself); undefined = /ops/* is a 404. */
  readonly operatorPage?: OperatorPage | undefined;
  /** Where a failure to answer is reported (the gateway's logger); the caller only learns that it failed. */
  readonly logError?: ((error: unknown, path: string) => void) | undefined;
}

export interface OpsListener {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Seconds a caller of the operations listener should wait after a 503. */
const OPS_UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

export async function startOpsListener(options: OpsListenerOptions): Promise<OpsListener> {
  const readinessTimeoutMs = options.readinessTimeoutMs ?? OBSERVABILITY_LIMITS.readinessCheckTimeoutMs;
  const server = createServer(
    { requestTimeout: OBSERVABILITY_LIMITS.opsRequestTimeoutMs, headersTimeout: OBSERVABILITY_LIMITS.opsHeadersTimeoutMs },
    (request, response) => {
      void answer(request, response).catch((error: unknown) => {
        // The database behind an operator page went away, or a metric's collect function threw. The cause goes to
        // our log, never to the caller (a driver's message can carry SQL and host names): 503, try again.
        options.logError?.(error, request.url ?? '/');
        if (!response.headersSent) {
          response.setHeader('retry-after', String(OPS_UNAVAILABLE_RETRY_AFTER_SECONDS));
          json(response, 503, { error: 'unavailable', error_description: 'this could not be answered right now; the cause is in the gateway log' });
        } else response.destroy();
      });
    },
  );

  async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (options.operatorPage !== undefined && (path === '/ops' || path.startsWith('/ops/'))) return options.operatorPage.handle(request, response);
    const route = path === '/metrics' || path === '/health/live' || path === '/health/ready' ? path : undefined;
    if (route === undefined) return json(response, 404, { error: 'not_found', error_description: 'GET /metrics, /health/live or /health/ready' });
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      return json(response, 405, { error: 'method_not_allowed', error_description: `${route} answers GET` });
    }
    switch (route) {
      case '/metrics': {
        const text = await options.registry.metrics();
        response.writeHead(200, { 'content-type': options.registry.contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : text);
        return;
      }
      case '/health/live':
        return json(response, 200, { status: 'live' });
      case '/health/ready': {
        const report = await checkReadiness(options.readiness, readinessTimeoutMs);
        return json(response, report.status === 'ready' ? 200 : 503, report);
      }
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections alive; idle ones would hold close() open.
        server.closeIdleConnections();
      }),
  };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}
