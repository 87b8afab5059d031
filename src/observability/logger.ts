/**
 * The gateway's structured logs: pino, one JSON object per line (stdout unless a destination is given). Every line
 * written while a request is being served carries that request's correlation (interactionId, traceId, spanId) via
 * pino's mixin, which reads the request's CorrelationScope: no function has to pass the ids on to be logged with
 * them, and lines written outside a request (the webhook relay) carry their own ids explicitly.
 */
import { hostname } from 'node:os';

import { type DestinationStream, type Logger, pino } from 'pino';

import type { CorrelationScope } from './correlation.ts';

export type { Logger } from 'pino';

/** pino's levels, plus `silent` (nothing is written). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly correlation: CorrelationScope;
  /** Where the lines go; default stdout (tests pass a stream and read the lines back). */
  readonly destination?: DestinationStream | undefined;
}

export function createLogger(options: LoggerOptions): Logger {
  const { correlation } = options;
  const settings = {
    level: options.level,
    base: { service: 'isogw', pid: process.pid, hostname: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const current = correlation.current();
      return current === undefined ? {} : { interactionId: current.interactionId, traceId: current.traceId, spanId: current.spanId };
    },
  };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}
