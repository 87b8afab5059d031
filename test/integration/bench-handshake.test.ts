/**
 * `bench:handshake` end to end with a handful of iterations: the real servers start, the token comes from the real
 * authorization server, every request is answered 200, TLS sessions really resume, and the record has the shape
 * bench/README.md describes. No assertion on any timing: this machine's numbers are not a test's business.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { HandshakeRecord } from '../../bench/handshake/bench.ts';
import { devPki, TEST_PKI_DIR } from '../support/pki.ts';

const RUN = fileURLToPath(new URL('../../bench/handshake/run.ts', import.meta.url));
const ITERATIONS = 3;

let dir: string;
let record: HandshakeRecord;
let stdout: string;

beforeAll(async () => {
  await devPki(); // the shared test PKI, complete before the bench reads it
  dir = await mkdtemp(join(tmpdir(), 'isogw-bench-handshake-'));
  const out = join(dir, 'handshake.json');
  ({ stdout } = await promisify(execFile)(process.execPath, [RUN, '--iterations', String(ITERATIONS), '--warmup', '1', '--out', out, '--pki', TEST_PKI_DIR]));
  record = JSON.parse(await readFile(out, 'utf8')) as HandshakeRecord;
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('bench:handshake', () => {
  it('writes a record with the machine, the settings and every scenario on every target', () => {
    expect(record).toMatchObject({
      bench: 'handshake',
      node: process.version,
      cpu: { cores: expect.any(Number) },
      settings: { iterations: { full: ITERATIONS, resumed: ITERATIONS, keepalive: ITERATIONS * 5 } },
    });
    expect(record.scenarios.map((s) => [s.id, s.targets.map((t) => t.target)])).toEqual([
      ['full', ['plain', 'baseline', 'gateway-health', 'gateway']],
      ['resumed', ['baseline', 'gateway-health', 'gateway']],
      ['keepalive', ['plain', 'baseline', 'gateway-health', 'gateway']],
    ]);
    for (const scenario of record.scenarios) {
      expect(scenario.refused).toBeUndefined();
      expect(scenario.gatewayOverBaseline).toEqual({ p50: expect.any(Number), p90: expect.any(Number), p99: expect.any(Number), mean: expect.any(Number) });
      expect(scenario.gatewayMinusBaselineMs).toEqual({ p50: expect.any(Number), mean: expect.any(Number), serverCpu: expect.any(Number) });
      for (const target of scenario.targets) {
        expect(target.samples).toBe(scenario.id === 'keepalive' ? ITERATIONS * 5 : ITERATIONS);
        for (const value of Object.values(target.totalMs)) expect(Number.isFinite(value) && value > 0).toBe(true);
        expect(Number.isFinite(target.serverCpuMsPerRequest)).toBe(true);
        expect(target.responseBytes).toBeGreaterThan(0);
      }
    }
  });

  it('resumes every TLS session in the resumed scenario and none in the full one, over TLS 1.3', () => {
    const reuse = (id: string) =>
      Object.fromEntries(record.scenarios.find((s) => s.id === id)!.targets.filter((t) => t.target !== 'plain').map((t) => [t.target, t.sessionReuse]));
    expect(reuse('resumed')).toEqual({
      baseline: { resumed: ITERATIONS, connections: ITERATIONS, rate: 1 },
      'gateway-health': { resumed: ITERATIONS, connections: ITERATIONS, rate: 1 },
      gateway: { resumed: ITERATIONS, connections: ITERATIONS, rate: 1 },
    });
    expect(reuse('full')).toEqual({
      baseline: { resumed: 0, connections: ITERATIONS, rate: 0 },
      'gateway-health': { resumed: 0, connections: ITERATIONS, rate: 0 },
      gateway: { resumed: 0, connections: ITERATIONS, rate: 0 },
    });
    const gateway = record.scenarios.find((s) => s.id === 'full')!.targets.find((t) => t.target === 'gateway')!;
    expect(gateway.protocol).toBe('TLSv1.3');
  });

  it('prints the Markdown tables', () => {
    expect(stdout).toContain('| client-seen, ms');
    expect(stdout).toContain('gateway vs baseline');
    expect(stdout).toContain('TLS sessions resumed:');
  });
});
