/**
 * The request correlation's pure parts: which `traceparent` headers are honoured (W3C Trace Context §3.2), the one we
 * answer with, the interaction id kept or made, and the scope that carries it across awaits; plus the operations
 * settings read from the environment.
 */
import { describe, expect, it } from 'vitest';

import { ConfigError, gatewayConfigFromEnv } from '../../src/config/gateway-config.ts';
import { correlationOf, createCorrelationScope, formatTraceparent, parseTraceparent } from '../../src/observability/correlation.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

describe('traceparent', () => {
  it('honours a valid version-00 header', () => {
    expect(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-01`)).toEqual({ traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: '01' });
  });

  it('reads the version-00 fields of a later version, extra fields and all', () => {
    expect(parseTraceparent(`01-${TRACE_ID}-${PARENT_ID}-00-what-comes-next`)).toEqual({ traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: '00' });
  });

  it.each([
    ['upper-case hex', `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`],
    ['an all-zero trace-id', `00-${'0'.repeat(32)}-${PARENT_ID}-01`],
    ['an all-zero parent-id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['version ff', `ff-${TRACE_ID}-${PARENT_ID}-01`],
    ['version 00 with more fields', `00-${TRACE_ID}-${PARENT_ID}-01-extra`],
    ['a short trace-id', `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`],
    ['garbage', 'not a traceparent'],
  ])('ignores %s', (_name, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it('ignores the header when it was sent twice', () => {
    expect(parseTraceparent([`00-${TRACE_ID}-${PARENT_ID}-01`, `00-${TRACE_ID}-${PARENT_ID}-01`])).toBeUndefined();
  });
});

describe('correlationOf', () => {
  it("continues the caller's trace with a span of our own, and keeps its interaction id", () => {
    const interactionId = 'c0a80101-0000-4000-8000-000000000001';
    const correlation = correlationOf({ 'x-fapi-interaction-id': interactionId, traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` });
    expect(correlation).toMatchObject({ interactionId, traceId: TRACE_ID, parentSpanId: PARENT_ID, traceFlags: '01' });
    expect(correlation.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(correlation.spanId).not.toBe(PARENT_ID);
    expect(formatTraceparent(correlation)).toBe(`00-${TRACE_ID}-${correlation.spanId}-01`);
  });

  it('starts an unsampled trace and makes an interaction id up when the caller sent none (or not a UUID)', () => {
    const correlation = correlationOf({ 'x-fapi-interaction-id': 'not-a-uuid' });
    expect(correlation.interactionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseTraceparent(formatTraceparent(correlation))).toEqual({ traceId: correlation.traceId, parentId: correlation.spanId, traceFlags: '00' });
    expect(correlation.parentSpanId).toBeUndefined();
  });
});

describe('correlation scope', () => {
  it('is current for everything the run started, across awaits, and for nothing else', async () => {
    const scope = createCorrelationScope();
    const correlation = correlationOf({});
    const seen = await scope.run(correlation, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return scope.current();
    });
    expect(seen).toBe(correlation);
    expect(scope.current()).toBeUndefined();
  });
});

describe('operations settings from the environment', () => {
  const problemsOf = (env: NodeJS.ProcessEnv): string => {
    try {
      gatewayConfigFromEnv(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    return '';
  };

  it('names a bad ISOGW_OPS_PORT, ISOGW_OPS_HOST without a port, and an unknown ISOGW_LOG_LEVEL', () => {
    expect(problemsOf({ ISOGW_OPS_PORT: 'metrics' })).toContain('ISOGW_OPS_PORT must be a port number');
    expect(problemsOf({ ISOGW_OPS_HOST: '0.0.0.0' })).toContain('ISOGW_OPS_HOST needs ISOGW_OPS_PORT');
    expect(problemsOf({ ISOGW_LOG_LEVEL: 'verbose' })).toContain('ISOGW_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent');
    expect(problemsOf({ ISOGW_OPS_PORT: '9464', ISOGW_LOG_LEVEL: 'debug' })).not.toMatch(/ISOGW_OPS|ISOGW_LOG/);
  });
});
