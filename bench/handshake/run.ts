/**
 * `npm run bench:handshake` — what a TLS 1.3 mTLS handshake, a resumed one and a keep-alive request cost,
 * client-seen, on a bare node:https server and on the gateway with its whole auth stack (mTLS check, DPoP-bound
 * access token, DPoP proof with the Redis jti replay check, partner lookup), measured in the same run with the
 * same certificates. See bench/README.md ("TLS handshake") and bench.ts for the method.
 *
 *   node bench/handshake/run.ts [--iterations N] [--warmup N] [--out FILE] [--pki DIR] [--ecdh-curve GROUPS]
 *
 * --iterations (or BENCH_ITERATIONS): timed connections per target in the full and resumed scenarios (default
 * 1500); the keep-alive scenario times 5× as many requests. --warmup (BENCH_WARMUP): untimed ones first (default
 * 100, × 5 for keep-alive). --pki: where the dev PKI is created or reused (default bench/.pki, git-ignored).
 * --ecdh-curve: the key-exchange groups the client offers (e.g. X25519); default Node's own offer, which with
 * OpenSSL 3.5 puts the hybrid post-quantum X25519MLKEM768 first. Progress goes to stderr, Markdown tables to stdout, the record to bench/results/handshake.json.
 * Exits 1 (after writing the record) when a resumed scenario's numbers were withheld because sessions did not resume.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { KEEPALIVE_FACTOR, runHandshakeBench } from './bench.ts';
import { claimRows, formatAll } from './report.ts';

const DEFAULT_ITERATIONS = 1500;
const DEFAULT_WARMUP = 100;

const { values } = parseArgs({
  options: {
    iterations: { type: 'string' },
    warmup: { type: 'string' },
    out: { type: 'string' },
    pki: { type: 'string' },
    'ecdh-curve': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help === true) {
  process.stdout.write('usage: node bench/handshake/run.ts [--iterations N] [--warmup N] [--out FILE] [--pki DIR] [--ecdh-curve GROUPS]\n');
  process.exit(0);
}
const integer = (text: string | undefined, fallback: number, min: number, name: string): number => {
  const value = Number(text ?? fallback);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`bench:handshake: ${name} must be an integer ≥ ${min}, not ${text}\n`);
    process.exit(2);
  }
  return value;
};
const iterations = integer(values.iterations ?? process.env.BENCH_ITERATIONS, DEFAULT_ITERATIONS, 1, '--iterations');
const warmup = integer(values.warmup ?? process.env.BENCH_WARMUP, DEFAULT_WARMUP, 0, '--warmup');
const outFile = values.out ?? fileURLToPath(new URL('../results/handshake.json', import.meta.url));
const pkiDir = values.pki ?? fileURLToPath(new URL('../.pki', import.meta.url));
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

process.stderr.write(
  `bench:handshake — ${iterations} connections per target (full, resumed), ${iterations * KEEPALIVE_FACTOR} keep-alive requests; ` +
    `${warmup} (×${KEEPALIVE_FACTOR}) warm-up\n  starting servers (baseline, authorization server, gateway) …\n`,
);
const tty = process.stderr.isTTY;
let lastPercent = -1;
const ecdhCurve = values['ecdh-curve'];
const record = await runHandshakeBench({ iterations, warmup, pkiDir, redisUrl, ecdhCurve }, (done, total, phase) => {
  const percent = Math.floor((done / total) * 100);
  if (percent === lastPercent) return;
  // One line rewritten in place on a terminal; a line per 10 % otherwise (CI logs, pipes).
  if (tty) process.stderr.write(`\r  ${String(percent).padStart(3)}% (${phase}, round ${done}/${total})   ${done === total ? '\n' : ''}`);
  else if (Math.floor(percent / 10) > Math.floor(lastPercent / 10)) process.stderr.write(`  ${percent}% (${phase}, round ${done}/${total})\n`);
  lastPercent = percent;
});

const loads = (load: number[]): string => load.map((l) => l.toFixed(2)).join(' ');
process.stdout.write(`\n${formatAll(record)}\n`);
process.stdout.write(
  `${record.node} on ${record.cpu.model} ×${record.cpu.cores}; load average ${loads(record.loadAverage.start)} → ${loads(record.loadAverage.end)}` +
    `${record.stealPercent === null ? '' : `; CPU time stolen by the hypervisor ${record.stealPercent.toFixed(1)} %`}; ${record.durationSeconds.toFixed(0)} s.\n`,
);
mkdirSync(dirname(outFile), { recursive: true });
// The differences of p50s the README compares with the published figures, kept with the numbers they come from.
writeFileSync(outFile, `${JSON.stringify({ ...record, differencesOfP50Ms: claimRows(record) }, null, 2)}\n`);
process.stderr.write(`wrote ${outFile}\n`);
if (record.scenarios.some((s) => s.refused !== undefined)) process.exitCode = 1;
