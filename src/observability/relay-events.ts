/**
 * The webhook relay's events (RelayLogEntry) as log lines and metrics: one line per attempt, with the webhook-id, the
 * payment's UETR and MsgId and the correlation id of the request that created the payment, at a level that says how
 * worried to be; and the attempt and dead-letter counters.
 */
import type { RelayLogEntry } from '../webhooks/relay.ts';
import type { Telemetry } from './telemetry.ts';

const ATTEMPT_LEVEL = {
  delivered: 'info',
  retry: 'warn',
  gone: 'warn',
  lost_lease: 'warn',
  dead: 'error',
  unrecorded: 'error',
} as const;

export function relayEventSink(telemetry: Telemetry): (entry: RelayLogEntry) => void {
  const { metrics } = telemetry;
  const logger = telemetry.logger.child({ component: 'webhook-relay' });
  return (entry) => {
    switch (entry.kind) {
      case 'attempt': {
        metrics.webhookAttempts.inc({ outcome: entry.outcome });
        if (entry.outcome === 'dead') metrics.webhookDeadLetters.inc();
        const { kind: _kind, ...fields } = entry;
        logger[ATTEMPT_LEVEL[entry.outcome]](fields, `webhook attempt ${entry.outcome}`);
        return;
      }
      case 'error':
        logger.error({ relayId: entry.relayId, err: entry.error }, entry.message);
        return;
      case 'warning':
        logger.warn({ relayId: entry.relayId }, entry.message);
        return;
    }
  };
}
