/**
 * The correlation of one request: the FAPI interaction id (`x-fapi-interaction-id`, echoed or made up by us) and a
 * W3C Trace Context span (https://www.w3.org/TR/trace-context/): the caller's trace-id when it sent a valid
 * `traceparent`, a fresh one otherwise, and a span id of our own. It is held in an AsyncLocalStorage for the
 * duration of the request, so every log line written on the request's behalf — the intake's, the booking's, the
 * framework's — carries it without each function passing it on (the logger's mixin reads it, see logger.ts), and
 * the booking stores the interaction id with the message, from where the webhook relay picks it up.
 *
 * The scope is an object created per gateway (createCorrelationScope) and passed down, never a module singleton.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, randomUUID } from 'node:crypto';

export interface Correlation {
  /** The request's `x-fapi-interaction-id`: the correlation id on every log line and stored with the message. */
  readonly interactionId: string;
  /** 32 lower-case hex digits: the caller's trace when it sent a valid traceparent, else a new one. */
  readonly traceId: string;
  /** 16 lower-case hex digits: our span, the parent-id of the traceparent we answer with. */
  readonly spanId: string;
  /** The caller's span (its traceparent's parent-id), when it sent one. */
  readonly parentSpanId?: string | undefined;
  /** trace-flags as two hex digits (`01` = sampled): the caller's, else `00`. */
  readonly traceFlags: string;
}

/** The request-scoped correlation: `run` makes it current for everything `fn` starts; `current` reads it. */
export interface CorrelationScope {
  run<T>(correlation: Correlation, fn: () => T): T;
  current(): Correlation | undefined;
}

export function createCorrelationScope(): CorrelationScope {
  const storage = new AsyncLocalStorage<Correlation>();
  return {
    run: (correlation, fn) => storage.run(correlation, fn),
    current: () => storage.getStore(),
  };
}

/** FAPI 2.0 §6.2.1: `x-fapi-interaction-id` is a UUID (RFC 4122); echoed when the client sent a valid one. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * traceparent `version-traceid-parentid-flags`, lower-case hex only (Trace Context §3.2). A version above 00 may
 * append fields after another dash; version ff is invalid.
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZERO = /^0+$/;

export interface TraceParent {
  readonly traceId: string;
  readonly parentId: string;
  readonly traceFlags: string;
}

/** The trace context a `traceparent` header carries, or undefined when it is absent or invalid (then it is ignored). */
export function parseTraceparent(header: string | readonly string[] | undefined): TraceParent | undefined {
  // Trace Context §3.2: more than one traceparent header makes it invalid.
  if (typeof header !== 'string') return undefined;
  const match = TRACEPARENT.exec(header.trim());
  if (match === null) return undefined;
  const [, version, traceId, parentId, traceFlags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (ALL_ZERO.test(traceId) || ALL_ZERO.test(parentId)) return undefined;
  return { traceId, parentId, traceFlags };
}

/** The `traceparent` we answer with: our span in the caller's trace (or the trace we started). */
export function formatTraceparent(correlation: Correlation): string {
  return `00-${correlation.traceId}-${correlation.spanId}-${correlation.traceFlags}`;
}

/** A request's correlation from its headers: the interaction id it sent (a valid UUID) or a new one, and its trace. */
export function correlationOf(headers: { readonly [name: string]: string | string[] | undefined }): Correlation {
  const sent = headers['x-fapi-interaction-id'];
  const parent = parseTraceparent(headers['traceparent']);
  return {
    interactionId: typeof sent === 'string' && UUID.test(sent) ? sent : randomUUID(),
    traceId: parent?.traceId ?? nonZeroHex(16),
    spanId: nonZeroHex(8),
    parentSpanId: parent?.parentId,
    // Only the sampled bit is defined in version 00; we pass the caller's decision on, and start unsampled.
    traceFlags: parent?.traceFlags ?? '00',
  };
}

function nonZeroHex(bytes: number): string {
  for (;;) {
    const hex = randomBytes(bytes).toString('hex');
    if (!ALL_ZERO.test(hex)) return hex;
  }
}
