/**
 * A failure behind the operations listener (the operator page's database gone, a metric that throws) is answered 503
 * with Retry-After and a generic description; its cause goes to the log, never to the caller.
 */
import { Registry } from 'prom-client';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';

import { startOpsListener } from '../../src/observability/ops-listener.ts';

describe('operations listener failures', () => {
  it('answers 503 without the cause, and logs the cause', async () => {
    const logged: { error: unknown; path: string }[] = [];
    const listener = await startOpsListener({
      host: '127.0.0.1',
      port: 0,
      registry: new Registry(),
      readiness: [],
      operatorPage: {
        handle: async () => {
          throw new Error('connect ECONNREFUSED db.internal:5432 password=hunter2');
        },
      },
      logError: (error, path) => logged.push({ error, path }),
    });
    try {
      const answer = await request(`${listener.url}/ops/payments`);
      const body = await answer.body.text();
      expect(answer.statusCode).toBe(503);
      expect(answer.headers['retry-after']).toBe('5');
      expect(JSON.parse(body).error).toBe('unavailable');
      expect(body).not.toMatch(/hunter2|db\.internal|ECONNREFUSED/);
      expect(logged).toHaveLength(1);
      expect(logged[0]!.path).toBe('/ops/payments');
      expect((logged[0]!.error as Error).message).toContain('ECONNREFUSED');
    } finally {
      await listener.close();
    }
  });
});
