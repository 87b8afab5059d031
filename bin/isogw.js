#!/usr/bin/env node
// The published command runs the TypeScript sources directly: Node 24 strips types natively, and every
// source file uses only erasable syntax (checked by `erasableSyntaxOnly` in tsconfig.json).
const { main } = await import('../src/cli/main.ts');
// A reader that stops early (`isogw validate ... | head`) closes the pipe: that ends our output, not in a crash.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
process.exitCode = await main(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
