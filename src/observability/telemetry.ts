/**
 * What the gateway tells its operators, as one dependency: the logger, the metrics and the request correlation
 * scope they share. Built once per gateway in server.ts and passed down to buildApp, the intake, the authenticator's
 * counters and the webhook relay; nothing reaches for a global logger or registry.
 */
import type { DestinationStream } from 'pino';

import { type CorrelationScope, createCorrelationScope } from './correlation.ts';
import { createLogger, type Logger, type LogLevel } from './logger.ts';
import { createMetrics, type GatewayMetrics, type MetricsOptions } from './metrics.ts';

export interface Telemetry {
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly correlation: CorrelationScope;
}

export interface TelemetryOptions extends MetricsOptions {
  readonly level: LogLevel;
  /** Default stdout. */
  readonly logDestination?: DestinationStream | undefined;
}

export function createTelemetry(options: TelemetryOptions): Telemetry {
  const correlation = createCorrelationScope();
  return {
    logger: createLogger({ level: options.level, correlation, destination: options.logDestination }),
    metrics: createMetrics(options),
    correlation,
  };
}

/** No log lines, metrics nobody scrapes: for components built without a gateway around them (unit tests, tools). */
export function silentTelemetry(): Telemetry {
  return createTelemetry({ level: 'silent' });
}
