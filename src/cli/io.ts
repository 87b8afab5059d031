/** What a command needs from the process, passed in so commands can be run and tested without one. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

export const EXIT = { ok: 0, rejected: 1, usage: 2, failure: 3 } as const;

/** A mistake in how the command was called: reported in one line with the usage, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
