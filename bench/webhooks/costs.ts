/**
 * What a phase cost, per process, read from outside: the senders' CPU and memory (relays or floor senders, sampled
 * from /proc by bench/lib/process-sampler.ts), this process's own CPU (producer + receiver: process.cpuUsage) and
 * event-loop delay (a busy loop delays the receiver's arrival times, so it is reported next to them), the
 * PostgreSQL backends serving the bench database (their /proc CPU, by pid from pg_stat_activity), and how busy the
 * whole machine was (2 shared cores: "the relay is slow" and "the machine was full" look alike without it).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

import type pg from 'pg';

import { machineBusyShare, type ProcessSampler, readMachineCpu, readProcess } from '../lib/process-sampler.ts';
import { PRODUCER_APPLICATION_NAME } from './database.ts';

export interface ProcessCost {
  readonly cpuSeconds: number;
  /** CPU seconds per wall-clock second of the phase: 1.0 = one core fully busy. */
  readonly cpuShareOfOneCore: number;
  readonly rssMaxBytes: number;
}

export interface PhaseCosts {
  readonly seconds: number;
  /** One per sender process (relay or floor sender); null where /proc could not be read. */
  readonly senders: readonly (ProcessCost | null)[];
  /** This process: producer (bookings) and receiver (verification). */
  readonly benchProcess: ProcessCost;
  /** The bench process's event-loop delay during the phase, ms. */
  readonly benchLoopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /**
   * CPU of the PostgreSQL backends connected to the bench database (those alive at the end of the phase), split by
   * whose connection it is: the relays' (application_name isogw / isogw-relay), the producer's bookings, the rest
   * (the bench's owner pool). Null when /proc could not be read.
   */
  readonly postgresCpuSeconds: { readonly relay: number; readonly producer: number; readonly other: number } | null;
  /** Share of the machine's CPU time (all cores) that was busy, 0..1. */
  readonly machineBusyShare: number | null;
}

/** Event-loop delay resolution, ms (perf_hooks' timer fires this often; its samples include this interval). */
const LOOP_DELAY_RESOLUTION_MS = 2;

/** Starts measuring a phase; `finish()` ends it and says what it cost. */
export async function startCosts(owner: pg.Pool, databaseName: string, samplers: () => readonly ProcessSampler[]): Promise<{ finish(): Promise<PhaseCosts> }> {
  const postgresStart = await postgresCpu(owner, databaseName);
  const loop = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  loop.enable();
  const machineStart = readMachineCpu();
  const cpuStart = process.cpuUsage();
  const fromEpochMs = Date.now();
  const started = performance.now();
  for (const sampler of samplers()) sampler.sample();
  return {
    async finish() {
      const list = samplers();
      for (const sampler of list) sampler.sample();
      const toEpochMs = Date.now();
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuStart);
      const machineEnd = readMachineCpu();
      loop.disable();
      const postgresEnd = await postgresCpu(owner, databaseName);
      const ownCpuSeconds = (cpu.user + cpu.system) / 1e6;
      return {
        seconds,
        senders: list.map((sampler) => {
          const window = sampler.window(fromEpochMs, toEpochMs);
          return window === null ? null : { cpuSeconds: window.cpuSeconds, cpuShareOfOneCore: window.cpuShareOfOneCore, rssMaxBytes: window.rssMaxBytes };
        }),
        benchProcess: { cpuSeconds: ownCpuSeconds, cpuShareOfOneCore: ownCpuSeconds / seconds, rssMaxBytes: process.memoryUsage().rss },
        benchLoopDelayMs: { p50: loopDelay(loop.percentile(50)), p99: loopDelay(loop.percentile(99)), max: loopDelay(loop.max) },
        postgresCpuSeconds: postgresStart === null || postgresEnd === null ? null : postgresDelta(postgresStart, postgresEnd),
        machineBusyShare: machineBusyShare(machineStart, machineEnd),
      };
    },
  };
}

/** A sample of perf_hooks' histogram (ns, the timer's interval included) as the loop's own delay in ms. */
function loopDelay(nanoseconds: number): number {
  return Math.max(0, nanoseconds / 1e6 - LOOP_DELAY_RESOLUTION_MS);
}

type Backends = Map<number, { readonly group: BackendGroup; readonly cpuSeconds: number }>;
type BackendGroup = 'relay' | 'producer' | 'other';

function groupOf(applicationName: string): BackendGroup {
  if (applicationName === 'isogw' || applicationName === 'isogw-relay') return 'relay';
  return applicationName === PRODUCER_APPLICATION_NAME ? 'producer' : 'other';
}

/** pid → group and CPU seconds so far, for the backends connected to the database; null when /proc is unreadable. */
async function postgresCpu(owner: pg.Pool, databaseName: string): Promise<Backends | null> {
  const { rows } = await owner.query<{ pid: number; application_name: string }>('select pid, application_name from pg_stat_activity where datname = $1', [databaseName]);
  const backends: Backends = new Map();
  for (const { pid, application_name } of rows) {
    const sample = readProcess(pid);
    if (sample !== null) backends.set(pid, { group: groupOf(application_name), cpuSeconds: sample.cpuSeconds });
  }
  return rows.length > 0 && backends.size === 0 ? null : backends;
}

/** CPU spent during the phase by the backends alive at its end (a backend that started during it: all its CPU). */
function postgresDelta(start: Backends, end: Backends): { relay: number; producer: number; other: number } {
  const total = { relay: 0, producer: 0, other: 0 };
  for (const [pid, { group, cpuSeconds }] of end) total[group] += cpuSeconds - (start.get(pid)?.cpuSeconds ?? 0);
  return total;
}
