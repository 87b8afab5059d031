/**
 * The `isogw` command line. Commands are small modules; this file only dispatches and guarantees that a user
 * never sees a stack trace: usage errors exit 2 with a one-line message, anything unexpected exits 3.
 */
import { EXIT, type CliIo, UsageError } from './io.ts';
import { runValidate, VALIDATE_USAGE } from './validate.ts';

const USAGE = `usage: isogw <command> [options]

commands:
  validate [--pacs002] FILE...   check pacs.008 files against their XSD and the business rules
  demo [--offline] [--json] [--pki DIR]
                                 check the examples, then run the gateway and play a partner bank end to end
  certs [--out DIR]              create the development PKI (default certs/dev; development only)
  migrate                        apply the database migrations (DATABASE_URL)
  ledger fund|balance ...        fund a participant's account, show balances (DATABASE_URL; see ledger --help)
  payments settle|release|show   complete a held onward payment, show a payment's history (DATABASE_URL; see payments --help)
  reconcile [--json]             check that the ledger, payments and outbox add up; exit 1 on any difference (DATABASE_URL)
  projections rebuild [--json]   rebuild payment statuses and balances from the history and compare (DATABASE_URL)
  webhooks list|deliveries|redeliver|disable|enable
                                 operate webhook endpoints and deliveries (DATABASE_URL; see webhooks --help)
  relay [--quiet]                relay the outbox as signed webhooks until SIGTERM/SIGINT (DATABASE_URL; see relay --help)
  stack                          run the authorization server and the gateway locally on the development PKI

${VALIDATE_USAGE}`;

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'validate':
        return runValidate(args, io);
      case 'demo': {
        // Loaded on demand: the demo starts the authorization server, the gateway and (without DATABASE_URL) PGlite.
        const { runDemo } = await import('./demo.ts');
        return await runDemo(io, args);
      }
      case 'certs': {
        // Loaded on demand: the X.509 writer (and its Reflect polyfill) is for this command only.
        const { runCerts } = await import('./certs.ts');
        return await runCerts(args, io);
      }
      case 'migrate': {
        const { runMigrate } = await import('./migrate.ts');
        return await runMigrate(args, io);
      }
      case 'ledger': {
        const { runLedger } = await import('./ledger.ts');
        return await runLedger(args, io);
      }
      case 'payments': {
        const { runPayments } = await import('./payments.ts');
        return await runPayments(args, io);
      }
      case 'reconcile': {
        const { runReconcile } = await import('./reconcile.ts');
        return await runReconcile(args, io);
      }
      case 'projections': {
        const { runProjections } = await import('./projections.ts');
        return await runProjections(args, io);
      }
      case 'relay': {
        // Loaded on demand: the relay, its sender and the database pool are for this command only.
        const { runRelay } = await import('./relay.ts');
        return await runRelay(args, io);
      }
      case 'webhooks': {
        const { runWebhooks } = await import('./webhooks.ts');
        return await runWebhooks(args, io);
      }
      case 'stack': {
        // Loaded on demand: servers, oidc-provider and the PKI writer are for this command only.
        const { runStack } = await import('./stack.ts');
        return await runStack(args, io);
      }
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
  // A reader that stops early (`... | head`) closes the pipe: that ends our output, not in a crash.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const io: CliIo = { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) };
  process.exitCode = await main(process.argv.slice(2), io);
}
