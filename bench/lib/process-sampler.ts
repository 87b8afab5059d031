/**
 * What a process (the gateway under load) costs, read from outside: CPU time from /proc/<pid>/stat (utime + stime,
 * every thread of the process) and resident memory from /proc/<pid>/status (VmRSS, VmHWM), sampled on a timer.
 * Reading /proc costs the sampled process nothing and needs no cooperation from it, so the number is the same for a
 * gateway started as in production. Plus the whole machine's busy share from /proc/stat, to tell "the gateway is
 * slow" from "the two cores were full". Linux only; elsewhere every sample is null and the harness says so.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second (USER_HZ) for /proc/<pid>/stat; 100 on every Linux we know when getconf is missing. */
function clockTicksPerSecond(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}
const TICKS_PER_SECOND = clockTicksPerSecond();

export interface ProcessSample {
  /** Milliseconds since the epoch. */
  readonly at: number;
  /** User + system CPU time of the process since it started, in seconds. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  /** Peak resident set so far. */
  readonly peakRssBytes: number;
}

export function readProcess(pid: number): ProcessSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields are counted after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { at: Date.now(), cpuSeconds: (utime + stime) / TICKS_PER_SECOND, rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM') };
  } catch {
    return null;
  }
}

export interface MachineCpu {
  readonly at: number;
  /** Jiffies of all CPUs since boot: busy (everything but idle and iowait) and total. */
  readonly busy: number;
  readonly total: number;
}

export function readMachineCpu(): MachineCpu | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return null;
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { at: Date.now(), busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Share of all CPU time (0..1, all cores together) the machine was busy between two readings. */
export function machineBusyShare(start: MachineCpu | null, end: MachineCpu | null): number | null {
  if (start === null || end === null || end.total <= start.total) return null;
  return (end.busy - start.busy) / (end.total - start.total);
}

/** Samples one process every `intervalMs` until stopped; the samples are kept for time series and windows. */
export class ProcessSampler {
  readonly samples: ProcessSample[] = [];
  readonly pid: number;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(pid: number, intervalMs: number) {
    this.pid = pid;
    this.intervalMs = intervalMs;
  }

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Takes a sample now (phase boundaries call this so windows start and end exactly there). */
  sample(): ProcessSample | null {
    const sample = readProcess(this.pid);
    if (sample !== null) this.samples.push(sample);
    return sample;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** CPU seconds and memory between two instants (inclusive samples); null when /proc was unreadable. */
  window(from: number, to: number): ProcessWindow | null {
    const inside = this.samples.filter((s) => s.at >= from && s.at <= to);
    const first = inside[0];
    const last = inside[inside.length - 1];
    if (first === undefined || last === undefined || first === last) return null;
    const rss = inside.map((s) => s.rssBytes);
    return {
      seconds: (last.at - first.at) / 1000,
      cpuSeconds: last.cpuSeconds - first.cpuSeconds,
      cpuShareOfOneCore: (last.cpuSeconds - first.cpuSeconds) / ((last.at - first.at) / 1000),
      rssStartBytes: first.rssBytes,
      rssEndBytes: last.rssBytes,
      rssMaxBytes: Math.max(...rss),
    };
  }
}

export interface ProcessWindow {
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** CPU seconds per wall-clock second: 1.0 is one core fully busy. */
  readonly cpuShareOfOneCore: number;
  readonly rssStartBytes: number;
  readonly rssEndBytes: number;
  readonly rssMaxBytes: number;
}
