/**
 * The progress line a long benchmark shows on stderr: rewritten in place on a terminal, and on a pipe or in a CI
 * log one line at most every PROGRESS_LOG_INTERVAL_MS (so a 20-minute run does not print 1,200 lines), plus every
 * phase's start and end. stdout stays for the results.
 */

/** On a non-terminal, at most one progress line this often. */
export const PROGRESS_LOG_INTERVAL_MS = 10_000;

export class ProgressLine {
  private readonly tty: boolean;
  private readonly write: (text: string) => void;
  private lastLogged = 0;
  private pending = false;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.tty = stream.isTTY === true;
    this.write = (text) => void stream.write(text);
  }

  /** A line that stays (a phase started or finished). */
  say(text: string): void {
    this.clear();
    this.write(`${text}\n`);
  }

  /** The transient status of the running phase. */
  update(text: string): void {
    if (this.tty) {
      this.write(`\r\u001b[2K  ${text}`);
      this.pending = true;
      return;
    }
    const now = Date.now();
    if (now - this.lastLogged < PROGRESS_LOG_INTERVAL_MS) return;
    this.lastLogged = now;
    this.write(`  ${text}\n`);
  }

  private clear(): void {
    if (this.tty && this.pending) this.write('\r\u001b[2K');
    this.pending = false;
  }
}
