/**
 * What the machine was doing while the bench ran: load average and, on Linux, the share of CPU time the
 * hypervisor stole from this VM (the noise a shared 2-core machine adds; see /work/shared/BENCHMARKING.md).
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, platform, release } from 'node:os';

interface CpuTimes {
  readonly total: number;
  readonly steal: number;
}

/** Aggregate CPU times from /proc/stat (user nice system idle iowait irq softirq steal …), or undefined. */
function cpuTimes(): CpuTimes | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
    return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
  } catch {
    return undefined;
  }
}

export interface MachineSnapshot {
  readonly load: number[];
  readonly times: CpuTimes | undefined;
}

export function snapshot(): MachineSnapshot {
  return { load: loadavg(), times: cpuTimes() };
}

/** Percentage of all CPU time stolen between two snapshots; null where /proc/stat is unavailable. */
export function stealPercent(start: MachineSnapshot, end: MachineSnapshot): number | null {
  if (start.times === undefined || end.times === undefined) return null;
  const total = end.times.total - start.times.total;
  return total > 0 ? (100 * (end.times.steal - start.times.steal)) / total : null;
}

export function describeMachine(): { node: string; v8: string; platform: string; cpu: { model: string; cores: number } } {
  const list = cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${platform()} ${release()}`,
    cpu: { model: list[0]?.model ?? 'unknown', cores: list.length },
  };
}
