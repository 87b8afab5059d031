/**
 * `isogw demo` (`npm run demo`, the README's first command) — the whole story in one command (issue 7 §1):
 *
 *   1. offline, the message core on the example messages in `examples/`: each verdict with its ISO reason codes and
 *      element paths (`--offline` prints only this part, in full, with the pacs.002 answering each message);
 *   2. live: the authorization server and the gateway on TLS with the development PKI, on real PostgreSQL and Redis
 *      when DATABASE_URL / REDIS_URL are set and on the embedded default otherwise (demo-services.ts); then a
 *      partner bank's integration, token to balances (demo-story.ts).
 *
 * It is also a smoke test: the exit status is 0 only if every step happened as the story says it should.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { checkPacs008, type SchemaSet } from '../iso20022/index.ts';
import { schemaSetFromDisk } from '../config/xsd-files.ts';
import type { DemoServices } from './demo-services.ts';
import type { PartnerStoryReport } from './demo-story.ts';
import { EXIT, type CliIo, UsageError } from './io.ts';
import { pacs002For, verdictJson } from './validate.ts';

const EXAMPLES_DIRECTORY = fileURLToPath(new URL('../../examples/', import.meta.url));
/** Where `npm run certs` and `npm run stack` keep the development PKI; the demo shares it. */
const DEMO_PKI_DIRECTORY = fileURLToPath(new URL('../../certs/dev/', import.meta.url));
/** The partner story's message: bank-alpha pays bank-gamma, a participant (on-us). */
const STORY_TEMPLATE = '1-accepted--cbpr-envelope.xml';
const STORY_PAYER = 'bank-alpha';
const STORY_PAYEE = 'bank-gamma';
/**
 * The examples were written on 2026-11-21; the demo checks them against that day's clock so that the
 * creation-time rule (DT02: at most 30 days old) does not turn the accepted example stale next month.
 */
const EXAMPLES_CLOCK = new Date('2026-11-21T18:00:00Z');

export const DEMO_USAGE = `usage: isogw demo [--offline] [--json] [--pki DIR]

Checks the example messages offline, then runs the authorization server and the gateway on TLS and plays a
partner bank: a DPoP-bound token, pacs.008s that settle, are rejected and are retried, signed webhooks, balances.
Uses DATABASE_URL / REDIS_URL when set, an embedded PostgreSQL (PGlite) and in-memory state otherwise.
Exit status 0 only if every step happened as expected.

  --offline   only the example messages, each with its full pacs.002 answer (no servers)
  --json      one JSON object with everything instead of the text
  --pki DIR   the development PKI (default certs/dev, created when missing)`;

export async function runDemo(io: CliIo, args: readonly string[] = [], env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  const options = demoOptions(args);
  if (options.help) {
    io.out(DEMO_USAGE);
    return EXIT.ok;
  }
  const schemas = schemaSetFromDisk();
  if (options.offline) return runOfflineDemo(io, schemas);

  const json = options.json;
  // In --json mode the story's lines are not printed: the object at the end says everything.
  const out = (line: string) => {
    if (!json) io.out(line);
  };
  out('iso20022-gateway demo');
  out('');
  out(`1. The message core, offline: the example messages in examples/ (clock ${EXAMPLES_CLOCK.toISOString()})`);
  const offline = offlineVerdicts(EXAMPLES_DIRECTORY, schemas);
  for (const line of offlineSummaryLines(offline)) out(line);
  out('   every reason and the pacs.002 answering each message: npm run demo -- --offline');
  out('');

  out('2. The gateway, live');
  let services: DemoServices | undefined;
  let story: PartnerStoryReport | undefined;
  let failure: string | undefined;
  try {
    // Loaded here: servers, PGlite and oidc-provider are for the live part only.
    const { startDemoServices } = await import('./demo-services.ts');
    const { playPartnerStory } = await import('./demo-story.ts');
    services = await startDemoServices({ pkiDir: options.pki ?? DEMO_PKI_DIRECTORY, env, schemas, out });
    out('');
    out(`3. ${STORY_PAYER} plays a partner bank: mutual TLS with its certificate, private_key_jwt, DPoP`);
    story = await playPartnerStory({
      issuer: services.issuer,
      gatewayOrigin: services.gatewayOrigin,
      pki: services.pki,
      payer: STORY_PAYER,
      payee: STORY_PAYEE,
      template: readFileSync(`${EXAMPLES_DIRECTORY}${STORY_TEMPLATE}`, 'utf8'),
      out,
    });
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
    if (env.ISOGW_DEBUG === '1' && error instanceof Error) io.err(error.stack ?? '');
  } finally {
    await services?.close();
  }

  const problems = [...(failure === undefined ? [] : [failure]), ...(story?.problems ?? [])];
  if (json) {
    io.out(JSON.stringify({
      ok: problems.length === 0,
      offline,
      services: services === undefined ? null : { database: services.database, sharedState: services.sharedState, issuer: services.issuer, gateway: services.gatewayOrigin },
      story: story ?? null,
      problems,
    }));
  } else {
    out('');
    if (problems.length === 0) {
      out('demo complete: every step happened as expected; everything is shut down.');
    } else {
      if (failure !== undefined) io.err(`demo FAILED: the story could not go on: ${failure}`);
      const missed = story?.problems ?? [];
      if (missed.length > 0) io.err(`demo FAILED: ${missed.length} step${missed.length === 1 ? '' : 's'} did not happen as expected:`);
      for (const problem of missed) io.err(`  - ${problem}`);
    }
  }
  return problems.length === 0 ? EXIT.ok : EXIT.failure;
}

function demoOptions(args: readonly string[]): { help: boolean; offline: boolean; json: boolean; pki: string | undefined } {
  try {
    const { values } = parseArgs({
      args: [...args],
      options: {
        offline: { type: 'boolean' },
        json: { type: 'boolean' },
        pki: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    return { help: values.help ?? false, offline: values.offline ?? false, json: values.json ?? false, pki: values.pki };
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
}

export interface OfflineVerdict {
  readonly file: string;
  readonly messageType: string | null;
  readonly accepted: boolean;
  /** pacs.002 group status, or null when the input cannot be identified as a pacs.008. */
  readonly status: string | null;
  readonly reasons: readonly { readonly code: string; readonly rule: string; readonly path: string; readonly transaction?: number | undefined }[];
}

function offlineVerdicts(directory: string, schemas: SchemaSet): OfflineVerdict[] {
  const files = readdirSync(directory).filter((f) => f.endsWith('.xml')).sort();
  return files.map((file) => {
    const result = checkPacs008(readFileSync(`${directory}${file}`), { schemas, now: EXAMPLES_CLOCK });
    const verdict = verdictJson(file, result);
    return {
      file,
      messageType: result.messageType ?? null,
      accepted: result.accepted,
      status: typeof verdict.status === 'string' ? verdict.status : null,
      reasons: result.reasons.map((r) => ({ code: r.code, rule: r.id, path: r.path, transaction: r.transaction })),
    };
  });
}

/** One line per example, aligned: file, message type, status, the first reason (and how many more). */
function offlineSummaryLines(verdicts: readonly OfflineVerdict[]): string[] {
  const width = Math.max(...verdicts.map((v) => v.file.length)) + 2;
  return verdicts.map((v) => {
    const first = v.reasons[0];
    const reason =
      first === undefined
        ? 'accepted'
        : `${first.code} ${first.rule}${first.transaction === undefined ? '' : ` [transaction ${first.transaction}]`} at ${first.path}${v.reasons.length > 1 ? ` (+${v.reasons.length - 1} more)` : ''}`;
    return `   ${v.file.padEnd(width)}${(v.messageType ?? 'not a pacs.008').padEnd(17)}${(v.status ?? '-').padEnd(6)}${reason}`;
  });
}

/** `--offline`: every example with each reason in full and the pacs.002 that answers it. */
export function runOfflineDemo(io: CliIo, schemas: SchemaSet = schemaSetFromDisk(), directory: string = EXAMPLES_DIRECTORY): number {
  const files = readdirSync(directory).filter((f) => f.endsWith('.xml')).sort();
  io.out(`iso20022-gateway demo: checking ${files.length} example messages from ${directory} (clock: ${EXAMPLES_CLOCK.toISOString()})\n`);
  for (const file of files) {
    const now = EXAMPLES_CLOCK;
    const result = checkPacs008(readFileSync(`${directory}${file}`), { schemas, now });
    const verdict = verdictJson(file, result);
    const status = typeof verdict.status === 'string' ? verdict.status : 'not identifiable';
    io.out(`── ${file}: ${result.messageType ?? 'unknown message type'}, ${result.accepted ? 'accepted' : 'rejected'} (${status})`);
    for (const r of result.reasons) {
      io.out(`   ${r.code} ${r.id}${r.transaction === undefined ? '' : ` [transaction ${r.transaction}]`}\n      at ${r.path}\n      ${r.message}`);
    }
    if (result.kind === 'checked') {
      io.out('   pacs.002 answer:');
      io.out(pacs002For(result, now).split('\n').map((line) => `   │ ${line}`).join('\n'));
    } else {
      io.out('   no pacs.002: the message cannot be identified (no MsgId to answer to); the gateway answers such input with an HTTP error body.');
    }
    io.out('');
  }
  return EXIT.ok;
}
