/**
 * A latency histogram with fractional-millisecond resolution, for the load harnesses.
 *
 * Why our own: autocannon's histogram counts whole milliseconds (a 0.4 ms request is recorded as 0) and only
 * 2xx responses enter it (BENCHMARKING.md traps 1 and 4). This one takes every response the caller chooses, keeps
 * log-spaced buckets 0.5 % wide from 1 µs to 10 minutes — so a percentile is within ±0.25 % of the true sample
 * value, whatever the scale — plus exact count, min, max and sum. Fixed memory (~3,500 counters) however many samples.
 *
 * Percentiles are nearest-rank over the buckets (the value returned is the bucket's geometric middle, clamped to
 * the exact min and max), the same definition as the other benches' exact nearest-rank percentiles.
 */

/** Smallest and largest values the buckets cover, in milliseconds; values outside are clamped into the end buckets. */
export const HISTOGRAM_MIN_MS = 0.001;
export const HISTOGRAM_MAX_MS = 600_000;
/** Each bucket is this much wider than the one before (0.5 %). */
export const HISTOGRAM_BUCKET_GROWTH = 1.005;

const LOG_GROWTH = Math.log(HISTOGRAM_BUCKET_GROWTH);
const BUCKETS = Math.ceil(Math.log(HISTOGRAM_MAX_MS / HISTOGRAM_MIN_MS) / LOG_GROWTH) + 1;

/** The percentiles every summary carries. */
export const SUMMARY_PERCENTILES = [50, 90, 97.5, 99, 99.9] as const;

export interface LatencySummary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p97_5: number;
  readonly p99: number;
  readonly p99_9: number;
  readonly max: number;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private sum = 0;
  private low = Number.POSITIVE_INFINITY;
  private high = Number.NEGATIVE_INFINITY;

  get count(): number {
    return this.total;
  }

  /** Records one sample, in milliseconds (negative or NaN values are a caller bug). */
  record(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`LatencyHistogram: a latency is ≥ 0 ms, got ${ms}`);
    this.counts[bucketOf(ms)]! += 1;
    this.total += 1;
    this.sum += ms;
    if (ms < this.low) this.low = ms;
    if (ms > this.high) this.high = ms;
  }

  /**
   * Records a sample taken on a schedule of one request every `expectedIntervalMs`, adding the samples the
   * schedule would have produced while this one was stalled (HdrHistogram's coordinated-omission correction).
   */
  recordCorrected(ms: number, expectedIntervalMs: number): void {
    this.record(ms);
    if (!(expectedIntervalMs > 0)) return;
    for (let missing = ms - expectedIntervalMs; missing >= expectedIntervalMs; missing -= expectedIntervalMs) this.record(missing);
  }

  /** Adds every sample of `other` to this histogram. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
    this.sum += other.sum;
    this.low = Math.min(this.low, other.low);
    this.high = Math.max(this.high, other.high);
  }

  /** Nearest-rank percentile (0 < p ≤ 100), in milliseconds; NaN when empty. */
  percentile(p: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.high, Math.max(this.low, middleOf(i)));
    }
    return this.high;
  }

  summary(): LatencySummary {
    const empty = this.total === 0;
    return {
      count: this.total,
      min: empty ? Number.NaN : this.low,
      mean: empty ? Number.NaN : this.sum / this.total,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p97_5: this.percentile(97.5),
      p99: this.percentile(99),
      p99_9: this.percentile(99.9),
      max: empty ? Number.NaN : this.high,
    };
  }

  /**
   * The distribution for a plot: the share of samples (0..1) in each bin of a fixed logarithmic grid
   * (`binsPerDecade` bins per factor of ten, the same grid for every histogram, so distributions can be overlaid),
   * keyed by the bin's geometric middle in milliseconds; from the bin of the minimum to the bin of the maximum.
   */
  distribution(binsPerDecade = 20): { ms: number; share: number }[] {
    if (this.total === 0) return [];
    const binOf = (ms: number): number => Math.floor(Math.log10(ms) * binsPerDecade);
    const shares = new Map<number, number>();
    for (let i = 0; i < BUCKETS; i++) {
      const count = this.counts[i]!;
      if (count > 0) {
        const bin = binOf(middleOf(i));
        shares.set(bin, (shares.get(bin) ?? 0) + count / this.total);
      }
    }
    const bins = [...shares.keys()];
    const [first, last] = [Math.min(...bins), Math.max(...bins)];
    const out: { ms: number; share: number }[] = [];
    for (let bin = first; bin <= last; bin++) out.push({ ms: 10 ** ((bin + 0.5) / binsPerDecade), share: shares.get(bin) ?? 0 });
    return out;
  }
}

function bucketOf(ms: number): number {
  if (ms <= HISTOGRAM_MIN_MS) return 0;
  return Math.min(BUCKETS - 1, Math.floor(Math.log(ms / HISTOGRAM_MIN_MS) / LOG_GROWTH));
}

function middleOf(bucket: number): number {
  return HISTOGRAM_MIN_MS * HISTOGRAM_BUCKET_GROWTH ** (bucket + 0.5);
}

/** Nearest-rank percentile of an ascending array (exact; for small sample sets). NaN when empty. */
export function nearestRank(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
