/**
 * One HTTP POST of a signed webhook to a partner's endpoint, and what came of it.
 *
 * The endpoint is a server we do not control, so everything is bounded and nothing it does can throw out of here:
 * connect, headers and body each have a timeout (WEBHOOK_LIMITS), at most `responseExcerptBytes` of the answer are
 * read (kept for diagnosis; the rest is discarded, never buffered), redirects are never followed (a 3xx is a failure:
 * following one would send a signed event wherever the endpoint points), and every network or TLS failure becomes a
 * `failed` outcome with a short, clear error text for the attempt log.
 *
 * In production the sender connects only to public addresses: the URL must be https, an IP-literal host must be
 * public, and a host name is resolved by our own lookup, which refuses the connection when any address it resolves
 * to is not public (endpoint-url.ts isPublicAddress). The check is on the addresses the socket then connects to, so
 * a name that changes its answer between registration and delivery (DNS rebinding) cannot reach 10.x, 127.x or
 * 169.254.169.254 either.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';

import { Agent, request } from 'undici';

import packageJson from '../../package.json' with { type: 'json' };
import { isPublicAddress } from './endpoint-url.ts';
import { WEBHOOK_LIMITS } from './limits.ts';
import { parseRetryAfter } from './retry-schedule.ts';

export type SendOutcome =
  | { readonly kind: 'delivered'; readonly status: number; readonly durationMs: number; readonly excerpt: string }
  | { readonly kind: 'gone'; readonly status: 410; readonly durationMs: number; readonly excerpt: string }
  | {
      readonly kind: 'failed';
      readonly status: number | undefined;
      /** Only for 429/503 with a valid Retry-After. */
      readonly retryAfterSeconds: number | undefined;
      /** e.g. 'HTTP 500', 'timeout: headers', 'connection reset', 'redirect (302) not followed', 'refused: private address 10.0.0.1'. */
      readonly error: string;
      readonly durationMs: number;
      readonly excerpt: string;
    };

export interface WebhookRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface WebhookSender {
  send(request: WebhookRequest): Promise<SendOutcome>;
  /** Closes the connection pool; in-flight sends end first (each is bounded by the timeouts). */
  close(): Promise<void>;
}

export interface WebhookSenderOptions {
  /** Development: plain http and any address (test receivers on 127.0.0.1). Never in production. */
  readonly allowInsecureEndpoints: boolean;
  /** Extra trust anchors (PEM) for endpoints' TLS certificates, e.g. a development CA; default: the system's. */
  readonly ca?: string | undefined;
  /** Default WEBHOOK_LIMITS; tests shorten the timeouts. */
  readonly limits?: SenderLimits;
  /** The clock Retry-After dates are read against. */
  readonly now?: () => Date;
}

/**
 * The bounds the sender uses. Plain numbers rather than WebhookLimits' literal types (the frozen object's), so a
 * caller can pass WEBHOOK_LIMITS or its own values.
 */
export type SenderLimits = { readonly [K in 'connectTimeoutMs' | 'headersTimeoutMs' | 'bodyTimeoutMs' | 'responseExcerptBytes' | 'connectionsPerOrigin']: number };

export const WEBHOOK_USER_AGENT = `iso20022-gateway-webhooks/${typeof packageJson.version === 'string' ? packageJson.version : '0.1'}`;

/** The error code our DNS guard fails a connection with. */
const PRIVATE_ADDRESS = 'ERR_WEBHOOK_PRIVATE_ADDRESS';
/** Node's TLS errors and OpenSSL's certificate verification codes (UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED, …). */
const TLS_ERROR_CODE = /^(ERR_TLS_|ERR_SSL_|EPROTO$)|CERT|UNABLE_TO_|SELF_SIGNED|HOSTNAME|VERIFY/;
/** Of an error text in an outcome: enough to diagnose, bounded for the attempt log. */
const ERROR_TEXT_CHARS_MAX = 200;

export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const limits: SenderLimits = options.limits ?? WEBHOOK_LIMITS;
  const now = options.now ?? (() => new Date());
  const production = !options.allowInsecureEndpoints;
  const agent = new Agent({
    connections: limits.connectionsPerOrigin,
    headersTimeout: limits.headersTimeoutMs,
    bodyTimeout: limits.bodyTimeoutMs,
    connect: {
      timeout: limits.connectTimeoutMs,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(production ? { lookup: publicOnlyLookup } : {}),
    },
  });

  return {
    async send(webhook) {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      const refused = preflight(webhook.url, production);
      if (refused !== undefined) return failed(undefined, refused, elapsed());
      try {
        const response = await request(webhook.url, {
          dispatcher: agent,
          method: 'POST',
          headers: { ...webhook.headers, 'user-agent': WEBHOOK_USER_AGENT },
          body: webhook.body,
        });
        const excerpt = await readExcerpt(response.body, limits);
        const status = response.statusCode;
        const durationMs = elapsed();
        if (status >= 200 && status < 300) return { kind: 'delivered', status, durationMs, excerpt };
        if (status === 410) return { kind: 'gone', status: 410, durationMs, excerpt };
        if (status >= 300 && status < 400) return failed(status, `redirect (${status}) not followed`, durationMs, excerpt);
        const retryAfterSeconds = status === 429 || status === 503 ? parseRetryAfter(headerText(response.headers['retry-after']), now()) : undefined;
        return failed(status, `HTTP ${status}`, durationMs, excerpt, retryAfterSeconds);
      } catch (error) {
        return failed(undefined, describeError(error), elapsed());
      }
    },
    async close() {
      await agent.close();
    },
  };
}

function failed(status: number | undefined, error: string, durationMs: number, excerpt = '', retryAfterSeconds?: number): SendOutcome {
  return { kind: 'failed', status, retryAfterSeconds, error: error.slice(0, ERROR_TEXT_CHARS_MAX), durationMs, excerpt };
}

/** What can be refused before any connection: a URL we cannot use, plain http or a private IP literal in production. */
function preflight(text: string, production: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'refused: invalid URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `refused: ${url.protocol} is not http(s)`;
  if (!production) return undefined;
  if (url.protocol !== 'https:') return 'refused: not https';
  // An IP-literal host is connected to without a lookup, so the DNS guard never sees it: check it here.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (isIP(host) !== 0 && !isPublicAddress(host)) return `refused: private address ${host}`;
  return undefined;
}

/**
 * net.connect's `lookup`: resolves every address of the name and fails when any is not public, so the socket can
 * only ever connect to a public one (all, not just the first: with autoSelectFamily it may try any of them).
 */
const publicOnlyLookup: LookupFunction = (hostname, lookupOptions, callback) => {
  dnsLookup(hostname, { ...lookupOptions, all: true }, (error, addresses: LookupAddress[]) => {
    if (error !== null) {
      callback(error, '', 0);
      return;
    }
    const refused = addresses.find((a) => !isPublicAddress(a.address));
    const first = addresses[0];
    if (refused !== undefined || first === undefined) {
      const guard = Object.assign(new Error(`refused: private address ${refused?.address ?? `(none for ${hostname})`}`), { code: PRIVATE_ADDRESS });
      callback(guard, '', 0);
      return;
    }
    if (lookupOptions.all === true) (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, addresses);
    else callback(null, first.address, first.family);
  });
};

/**
 * At most `responseExcerptBytes` of the body, as text, then the rest is discarded (destroying the stream closes the
 * connection rather than draining an unbounded body). Reading is best-effort: a body that stalls or fails costs at
 * most `bodyTimeoutMs` in all and leaves what was read, because the status already says what happened.
 */
async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(error?: Error): unknown }, limits: SenderLimits): Promise<string> {
  const max = limits.responseExcerptBytes;
  const chunks: Buffer[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), limits.bodyTimeoutMs);
  });
  const read = (async () => {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= max) break;
    }
  })().catch(() => {});
  try {
    await Promise.race([read, deadline]);
  } finally {
    clearTimeout(timer);
    if (size >= max || !isEnded(body)) body.destroy();
  }
  // NUL cannot be stored in a Postgres text column; everything else is kept as the endpoint sent it.
  return Buffer.concat(chunks).subarray(0, max).toString('utf8').replaceAll('\u0000', '\uFFFD');
}

function isEnded(body: object): boolean {
  return (body as { readableEnded?: boolean }).readableEnded === true;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A short text for the attempt log; the codes are undici's and Node's. */
function describeError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const cause = (error as { cause?: { code?: unknown; message?: string } }).cause;
  switch (code) {
    case PRIVATE_ADDRESS:
      return message;
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'timeout: connect';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'timeout: headers';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'timeout: body';
    case 'ECONNRESET':
      return 'connection reset';
    case 'UND_ERR_SOCKET':
      return cause?.code === 'ECONNRESET' ? 'connection reset' : `connection closed: ${message}`;
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `dns: ${message}`;
    case 'EPIPE':
      return 'connection closed while sending';
  }
  if (error instanceof AggregateError) {
    // autoSelectFamily tried several addresses: the first one's reason is the representative.
    const first: unknown = error.errors[0];
    if (first !== undefined) return describeError(first);
  }
  if (typeof code === 'string' && TLS_ERROR_CODE.test(code)) {
    // Node appends advice for its own operators ("…; if the root CA is installed locally, try …"): not for the log.
    return `tls: ${message.split('; ')[0]}`;
  }
  return typeof code === 'string' ? `${code}: ${message}` : message;
}
