/**
 * `npm run bench:parse` — where the time of checkPacs008 goes, stage by stage, against fast-xml-parser and a
 * JSON + JSON Schema baseline, for pacs.008 messages of 1, 10 and 100 transactions. See bench/README.md.
 *
 *   node bench/parse/run.ts [--iterations N] [--out FILE]
 *
 * All 32 operations (8 for each of 4 messages) run interleaved in the same rounds for the whole run.
 * --iterations (or BENCH_ITERATIONS) sets the timed calls per operation for the 10-transaction messages
 * (default 3000); the 1-transaction message gets twice as many, the 100-transaction one a fifth. About a
 * minute on a 2-core machine at the default; `--iterations 300` is a quick look.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { schemaSetFromDisk } from '../../src/config/xsd-files.ts';
import { compilePacs008JsonValidator } from './json-schema.ts';
import { describeMachine, snapshot, stealPercent } from './machine.ts';
import { measureInterleaved, summarise, type Operation, type Summary } from './measure.ts';
import { exactXmlParser, loadMessages } from './messages.ts';
import { OP, prepare, type OperationName } from './operations.ts';
import { formatResults, formatTarget, ratiosOf, TARGET, type MessageResult } from './report.ts';

const DEFAULT_ITERATIONS = 3000;
/** Calls per operation per round: each message takes a similar share of every round. */
const BATCH: Record<string, number> = { '1tx': 20, '10tx': 10, '10tx-compact': 10, '100tx': 2 };
const BASE_BATCH = 10;

const { values } = parseArgs({
  options: {
    iterations: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help === true) {
  process.stdout.write('usage: node bench/parse/run.ts [--iterations N] [--out FILE]\n');
  process.exit(0);
}
const iterationsArg = values.iterations ?? process.env.BENCH_ITERATIONS;
const base = Number(iterationsArg ?? DEFAULT_ITERATIONS);
if (!Number.isInteger(base) || base < BASE_BATCH * 5) {
  process.stderr.write(`bench:parse: --iterations must be an integer ≥ ${BASE_BATCH * 5}, not ${iterationsArg}\n`);
  process.exit(2);
}
const rounds = Math.round(base / BASE_BATCH);
const warmupRounds = Math.max(5, Math.round(rounds / 5));
const outFile = values.out ?? fileURLToPath(new URL('../results/parse.json', import.meta.url));

const now = new Date('2026-11-21T12:00:00Z');
const started = Date.now();
const machine = describeMachine();
const atStart = snapshot();
const loads = (load: number[]): string => load.map((l) => l.toFixed(2)).join(' ');
process.stderr.write(`bench:parse — node ${machine.node}, ${machine.cpu.model} ×${machine.cpu.cores}, load ${loads(atStart.load)}\n`);
const schemas = schemaSetFromDisk();
schemas.warm(['pacs.008.001.08', 'head.001.001.02']);
const context = { schemas, now, xmlParser: exactXmlParser(), jsonValidator: compilePacs008JsonValidator() };
const messages = loadMessages(new URL('../../test/fixtures/bench/', import.meta.url));

// Every message's operations, checked once (prepare() throws if a path fails), then all timed together.
using stack = new DisposableStack();
const operations: Operation[] = messages.flatMap((message) => {
  const prepared = stack.use(prepare(message, context));
  const batch = BATCH[message.id] ?? BASE_BATCH;
  return prepared.operations.map((op) => ({ name: `${message.id} ${op.name}`, batch, run: op.run }));
});
process.stderr.write(`  ${warmupRounds} warm-up + ${rounds} timed rounds of ${operations.length} operations (${messages.length} messages × ${Object.keys(OP).length})\n`);

const tty = process.stderr.isTTY;
let lastPercent = -1;
const samples = measureInterleaved(operations, { warmupRounds, rounds }, (fraction) => {
  const percent = Math.floor(fraction * 100);
  if (percent === lastPercent) return;
  const phase = fraction * (warmupRounds + rounds) <= warmupRounds ? 'warm-up' : 'timing';
  // One line rewritten in place on a terminal; a line per 10 % otherwise (CI logs, pipes).
  if (tty) process.stderr.write(`\r  ${String(percent).padStart(3)}% (${phase})   ${percent >= 100 ? '\n' : ''}`);
  else if (Math.floor(percent / 10) > Math.floor(lastPercent / 10)) process.stderr.write(`  ${percent}% (${phase})\n`);
  lastPercent = percent;
});
const byName = new Map(samples.map((s) => [s.name, s.micros]));

const results: MessageResult[] = messages.map((message) => {
  const batch = BATCH[message.id] ?? BASE_BATCH;
  const stages = (Object.values(OP) as OperationName[]).map((name): [OperationName, Summary] => [
    name,
    summarise(byName.get(`${message.id} ${name}`) ?? new Float64Array()),
  ]);
  const summaries = Object.fromEntries(stages) as Record<OperationName, Summary>;
  return {
    id: message.id,
    transactions: message.transactions,
    xmlBytes: message.xml.length,
    jsonBytes: message.json.length,
    iterations: batch * rounds,
    warmup: batch * warmupRounds,
    operations: summaries,
    ratios: ratiosOf(summaries),
  };
});
const atEnd = snapshot();
const steal = stealPercent(atStart, atEnd);
const seconds = (Date.now() - started) / 1000;

process.stdout.write(`\n${formatResults(results)}\n\n${formatTarget(results)}\n`);
process.stdout.write(
  `${machine.node} on ${machine.cpu.model} ×${machine.cpu.cores}; load average ${loads(atStart.load)} → ${loads(atEnd.load)}` +
    `${steal === null ? '' : `; CPU time stolen by the hypervisor ${steal.toFixed(1)} %`}; ${seconds.toFixed(0)} s.\n`,
);

const targets = TARGET.messages.map((id) => {
  const p50 = results.find((r) => r.id === id)?.operations[TARGET.operation].p50 ?? null;
  return { message: id, p50Micros: p50, met: p50 === null ? null : p50 <= TARGET.p50MicrosMax };
});
const record = {
  bench: 'parse',
  date: new Date(started).toISOString(),
  ...machine,
  loadAverage: { start: atStart.load, end: atEnd.load },
  stealPercent: steal,
  durationSeconds: seconds,
  clock: now.toISOString(),
  units: 'microseconds per call, nearest-rank percentiles of individually timed calls (process.hrtime.bigint)',
  plan: { iterations10tx: base, warmupRounds, rounds, batch: BATCH, interleaving: `all ${operations.length} operations in every round, rotating order` },
  target: { operation: TARGET.operation, p50MicrosMax: TARGET.p50MicrosMax, results: targets },
  messages: results,
};
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(record, null, 2)}\n`);
process.stderr.write(`wrote ${outFile}\n`);
