/**
 * `npm run bench` / `npm run bench:e2e` — the whole gateway under load (mTLS, DPoP-bound tokens, a fresh proof,
 * Idempotency-Key and unique pacs.008 per request, real Postgres and Redis), beside its floors measured in the same
 * run (bare Fastify + mTLS; the booking transaction straight at Postgres), the read side, and the gateway's CPU and
 * memory. See bench/README.md ("End to end") for the method; `--help` for the settings.
 *
 * Progress goes to stderr, the results (Markdown) to stdout; the record to bench/results/e2e.json with SVG plots
 * beside it, and — on a default run — the results section of bench/README.md is rewritten from that record.
 * Exits 1 (after writing everything) when a correctness check failed: errors in a gateway phase, an accepted
 * message not in the database, an inconsistent ledger. Missing a performance target is reported, not an exit code.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { ProgressLine } from '../lib/progress.ts';
import { runE2eBench } from './bench.ts';
import { plotFilesFor, writePlots } from './plots.ts';
import { formatResults, rewriteReadme, targetRows } from './report.ts';
import { SettingsError, settingsFrom, USAGE } from './settings.ts';
import { closeOpenStacks } from './stack.ts';

let settings;
try {
  settings = settingsFrom(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof SettingsError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true)) throw error;
  process.stderr.write(`bench:e2e: ${(error as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (settings === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}

const progress = new ProgressLine();
// Interrupted: stop the servers, remove the Redis keys and drop the database before leaving, as a finished run does.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress.say(`${signal}: stopping the servers and dropping the bench database …`);
    void closeOpenStacks().finally(() => process.exit(130));
  });
}
progress.say(`bench:e2e${settings.quick ? ' (quick)' : ''} — phases: ${[...settings.phases].join(', ')}; ${settings.durationSeconds} s each${settings.phases.has('soak') ? `, soak ${settings.soakSeconds} s` : ''}`);
const record = await runE2eBench(settings, progress);

mkdirSync(dirname(settings.out), { recursive: true });
writeFileSync(settings.out, `${JSON.stringify({ ...record, targets: targetRows(record) }, null, 2)}\n`);
const plots = plotFilesFor(settings.out);
writePlots(record, plots);
const markdown = formatResults(record, plots, settings.readme === undefined ? undefined : dirname(settings.readme));
process.stdout.write(`\n${markdown}\n`);
if (settings.readme !== undefined) {
  rewriteReadme(settings.readme, markdown);
  progress.say(`rewrote the results section of ${settings.readme}`);
}
progress.say(`wrote ${settings.out} and ${Object.values(plots).join(', ')}`);

const p = record.phases;
const gatewayErrors = [p.warmup, p.gateway, p.hot, p.fixedRate, p.soak, p.read?.small.gateway, p.read?.large.gateway, p.read?.payment].reduce(
  (sum, phase) => sum + (phase?.errors ?? 0),
  0,
);
if (gatewayErrors > 0 || (record.checks !== null && !(record.checks.bookings.ok && record.checks.ledger.ok))) {
  progress.say('correctness check failed: see the errors and checks above');
  process.exitCode = 1;
}
