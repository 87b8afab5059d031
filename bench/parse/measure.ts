/**
 * The timing engine: every call is timed on its own with process.hrtime.bigint(), after a warm-up, and all
 * the operations being compared run interleaved in rounds (a small batch of each, in an order that rotates
 * every round), so that machine noise, GC and CPU contention from other tenants of a shared VM hit them all
 * alike instead of whichever happened to run during a slow minute.
 */

export interface Operation {
  readonly name: string;
  /** Calls per round: larger for cheap operations, so that each takes a similar share of every round. */
  readonly batch: number;
  readonly run: () => unknown;
}

export interface Samples {
  readonly name: string;
  /** Microseconds, one per call, sorted ascending. */
  readonly micros: Float64Array;
}

export interface Summary {
  readonly iterations: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly min: number;
  readonly mean: number;
}

export interface RoundPlan {
  readonly warmupRounds: number;
  readonly rounds: number;
}

/** Keeps results reachable so that the optimiser cannot drop a call whose result is unused. */
export let sink: unknown;

/** The nearest-rank percentile of sorted samples. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export function summarise(micros: Float64Array): Summary {
  let total = 0;
  for (const value of micros) total += value;
  return {
    iterations: micros.length,
    p50: percentile(micros, 50),
    p90: percentile(micros, 90),
    p99: percentile(micros, 99),
    min: micros[0] ?? Number.NaN,
    mean: total / micros.length,
  };
}

/**
 * Runs `plan.warmupRounds` untimed rounds, then `plan.rounds` timed ones; each round calls every operation
 * `batch` times. `onProgress` gets the fraction of rounds done after each round.
 */
export function measureInterleaved(operations: readonly Operation[], plan: RoundPlan, onProgress: (fraction: number) => void): Samples[] {
  const count = operations.length;
  const timings = operations.map((op) => new Float64Array(op.batch * plan.rounds));
  const filled = new Array<number>(count).fill(0);
  const totalRounds = plan.warmupRounds + plan.rounds;

  for (let round = 0; round < totalRounds; round++) {
    const timed = round >= plan.warmupRounds;
    for (let k = 0; k < count; k++) {
      const index = (round + k) % count;
      const op = operations[index];
      const out = timings[index];
      if (op === undefined || out === undefined) continue;
      if (!timed) {
        for (let i = 0; i < op.batch; i++) sink = op.run();
        continue;
      }
      let at = filled[index] ?? 0;
      for (let i = 0; i < op.batch; i++) {
        const start = process.hrtime.bigint();
        sink = op.run();
        const end = process.hrtime.bigint();
        out[at++] = Number(end - start) / 1000;
      }
      filled[index] = at;
    }
    onProgress((round + 1) / totalRounds);
  }
  return operations.map((op, i) => ({ name: op.name, micros: (timings[i] ?? new Float64Array()).sort() }));
}
