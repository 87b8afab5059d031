/**
 * `isogw certs [--out DIR]` — creates or refreshes the development PKI and prints, per file, whether it was
 * created, renewed (and why) or reused. Loaded on demand by main.ts so no other command pays for the X.509 writer.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { createDevPki, DevPkiError, type DevPkiFileEvent } from '../certs/dev-pki.ts';
import { EXIT, type CliIo, UsageError } from './io.ts';

export const CERTS_DEFAULT_OUT = 'certs/dev';

export const CERTS_USAGE = `usage: isogw certs [--out DIR]

Creates the development PKI (CA, localhost server certificate, partner client certificates, signing keys,
authorization server secrets and the partner registry) in DIR, default ${CERTS_DEFAULT_OUT}. Development only.
Running it again reuses every file that is still good and renews the rest; delete DIR to start over.
Exit status: 0 done, 2 usage error, 3 the files could not be written.`;

export async function runCerts(args: string[], io: CliIo, cwd: string = process.cwd()): Promise<number> {
  const { values, positionals } = (() => {
    try {
      return parseArgs({ args, options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
    } catch (error) {
      throw new UsageError((error as Error).message, { cause: error });
    }
  })();
  if (values.help) {
    io.out(CERTS_USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`certs takes no arguments (got "${positionals.join(' ')}")`);
  if (values.out === '') throw new UsageError('--out needs a directory');
  const out = values.out ?? CERTS_DEFAULT_OUT;

  const show = (file: string) => {
    const rel = relative(cwd, file);
    return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
  };
  const line = (event: DevPkiFileEvent) => `${event.action.padEnd(7)}  ${show(event.file)}${event.reason === undefined ? '' : `  (${event.reason})`}`;
  try {
    const files = await createDevPki(resolve(cwd, out), { onFile: (event) => io.out(line(event)) });
    io.out(`development PKI ready in ${show(files.dir)} (development only: never use or commit these keys)`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof DevPkiError)) throw error;
    io.err(`isogw certs: ${error.message}`);
    return EXIT.failure;
  }
}
