/**
 * The `isogw` command line. Commands are small modules; this file only dispatches and guarantees that a user
 * never sees a stack trace: usage errors exit 2 with a one-line message, anything unexpected exits 3.
 */
import { runDemo } from './demo.ts';
import { EXIT, type CliIo, UsageError } from './io.ts';
import { runValidate, VALIDATE_USAGE } from './validate.ts';

const USAGE = `usage: isogw <command> [options]

commands:
  validate [--pacs002] FILE...   check pacs.008 files against their XSD and the business rules
  demo                           validate the example messages and show the pacs.002 answers

${VALIDATE_USAGE}`;

export function main(argv: string[], io: CliIo): number {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'validate':
        return runValidate(args, io);
      case 'demo':
        return runDemo(io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return command === undefined ? EXIT.usage : EXIT.ok;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`isogw: ${error.message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    io.err(`isogw: internal error: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.ISOGW_DEBUG === '1') io.err(error instanceof Error ? (error.stack ?? '') : '');
    return EXIT.failure;
  }
}

if (import.meta.main) {
  const io: CliIo = { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) };
  process.exitCode = main(process.argv.slice(2), io);
}
