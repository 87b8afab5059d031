/**
 * `isogw validate FILE...` — the offline validator. One JSON object per file on stdout (or the pacs.002 with
 * `--pacs002`); exit status 0 when every file is accepted, 1 when any is rejected, 2 on a usage error.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkPacs008, type CheckResult, type SchemaSet } from '../iso20022/index.ts';
import { buildPacs002, pacs002VersionFor } from '../iso20022/pacs002/index.ts';
import { statusReportFor } from '../iso20022/status-report.ts';
import { schemaSetFromDisk } from '../config/xsd-files.ts';
import { EXIT, type CliIo, UsageError } from './io.ts';

export const VALIDATE_USAGE = `usage: isogw validate [--pacs002] FILE...

Validates ISO 20022 pacs.008 messages (versions .001.01 to .001.14, bare or with a head.001 AppHdr in any
wrapper) against the official XSD and the business rules. Prints one JSON object per file:
  {"file": "...", "accepted": true|false, "messageType": "pacs.008.001.08", "transactions": 1,
   "reasons": [{"code": "AM10", "rule": "CTRL_SUM_MISMATCH", "path": "/Document/...", "message": "..."}]}
  --pacs002   print the pacs.002 status report answering each message instead
Exit status: 0 all accepted, 1 any rejected, 2 usage error (including a file that cannot be read).`;

/** The JSON line for one file. */
export function verdictJson(file: string, result: CheckResult): Record<string, unknown> {
  return {
    file,
    accepted: result.accepted,
    messageType: result.messageType ?? null,
    transactions: result.kind === 'checked' ? result.transactions.length : 0,
    ...(result.kind === 'checked' ? { status: statusOf(result) } : {}),
    reasons: result.reasons.map((r) => ({
      code: r.code,
      rule: r.id,
      path: r.path,
      message: r.message,
      ...(r.transaction === undefined ? {} : { transaction: r.transaction }),
    })),
  };
}

function statusOf(result: Extract<CheckResult, { kind: 'checked' }>): 'ACTC' | 'PART' | 'RJCT' {
  if (result.accepted) return 'ACTC';
  return result.messageReasons.length === 0 && result.transactions.some((t) => t.accepted) ? 'PART' : 'RJCT';
}

/** A fresh pacs.002 message id: 35 characters at most (Max35Text). */
function reportId(): string {
  return `ISOGW-${randomBytes(12).toString('hex')}`;
}

export function pacs002For(result: Extract<CheckResult, { kind: 'checked' }>, now: Date): string {
  const version = Number(result.messageType.slice(-2));
  const report = statusReportFor(result, { messageId: reportId(), creationDateTime: now.toISOString(), acceptedStatus: 'ACTC' });
  return buildPacs002(report, pacs002VersionFor(version));
}

export function runValidate(args: string[], io: CliIo, schemas: SchemaSet = schemaSetFromDisk()): number {
  const { values, positionals } = (() => {
    try {
      return parseArgs({ args, options: { pacs002: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
  })();
  if (values.help === true) {
    io.out(VALIDATE_USAGE);
    return EXIT.ok;
  }
  if (positionals.length === 0) throw new UsageError('validate needs at least one FILE');
  let status: number = EXIT.ok;
  for (const file of positionals) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      io.err(`isogw: cannot read ${file}: ${code}`);
      status = EXIT.usage;
      continue;
    }
    const now = new Date();
    const result = checkPacs008(bytes, { schemas, now });
    if (!result.accepted && status === EXIT.ok) status = EXIT.rejected;
    if (values.pacs002 === true) {
      if (result.kind === 'checked') io.out(pacs002For(result, now));
      else io.err(`isogw: ${file} cannot be identified as a pacs.008, so no pacs.002 can answer it: ${result.reasons.map((r) => `${r.code} ${r.message}`).join('; ')}`);
    } else {
      io.out(JSON.stringify(verdictJson(file, result)));
    }
  }
  return status;
}
