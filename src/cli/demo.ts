/**
 * `isogw demo` — shows the message core at work on the example messages in `examples/`: one accepted, one
 * rejected whole, one partially rejected, one that is not even XML. For each it prints the verdict, every
 * reason with its ISO code and element path, and the pacs.002 that answers it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkPacs008 } from '../iso20022/index.ts';
import { schemaSetFromDisk } from '../config/xsd-files.ts';
import { EXIT, type CliIo } from './io.ts';
import { pacs002For, verdictJson } from './validate.ts';

const EXAMPLES_DIRECTORY = fileURLToPath(new URL('../../examples/', import.meta.url));
/**
 * The examples were written on 2026-11-21; the demo checks them against that day's clock so that the
 * creation-time rule (DT02: at most 30 days old) does not turn the accepted example stale next month.
 */
const EXAMPLES_CLOCK = new Date('2026-11-21T18:00:00Z');

export function runDemo(io: CliIo, directory: string = EXAMPLES_DIRECTORY): number {
  const schemas = schemaSetFromDisk();
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
