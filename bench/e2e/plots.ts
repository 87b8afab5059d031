/**
 * The e2e record's plots, as SVG next to its JSON: latency distributions of every load phase (log scale), accepted
 * requests per second over each phase, and the gateway's resident memory over the whole run.
 */
import { writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { lineChart, PALETTE, type Series } from '../lib/svg-plot.ts';
import type { E2eRecord } from './bench.ts';

export interface PlotFiles {
  readonly latency: string;
  readonly throughput: string;
  readonly memory: string;
}

export function plotFilesFor(out: string): PlotFiles {
  const stem = join(dirname(out), basename(out, '.json'));
  return { latency: `${stem}-latency.svg`, throughput: `${stem}-throughput.svg`, memory: `${stem}-gateway-rss.svg` };
}

export function writePlots(record: E2eRecord, files: PlotFiles): void {
  const p = record.phases;
  const loads = [
    ['gateway, spread', p.gateway],
    ['gateway, one hot bank', p.hot],
    [`gateway, fixed ${record.fixedRate.rate ?? ''}/s`, p.fixedRate],
    ['baseline (Fastify + mTLS)', p.baseline],
    ['database floor, spread', p.floorSpread],
    ['database floor, hot', p.floorHot],
  ] as const;
  // One colour per phase in every chart.
  const colourOf = (phase: unknown): string => PALETTE[loads.findIndex(([, candidate]) => candidate === phase) % PALETTE.length] ?? PALETTE[6];
  const latency: Series[] = loads.flatMap(([name, phase]) =>
    phase === undefined ? [] : [{ name, colour: colourOf(phase), points: phase.latencyDistribution.map((bin) => [bin.ms, bin.share * 100] as const) }],
  );
  writeFileSync(
    files.latency,
    lineChart({ title: 'Latency distribution per phase', xLabel: 'latency, ms (log scale)', yLabel: '% of requests per bin', series: latency, xScale: 'log' }),
  );

  const perSecond = (values: readonly number[]): (readonly [number, number])[] => values.map((n, i) => [i + 1, n] as const);
  // The baseline runs an order of magnitude faster: on the same axis every other line would lie flat on zero.
  const throughput: Series[] = [
    ...loads.flatMap(([name, phase]) => {
      if (phase === undefined || phase === p.baseline) return [];
      return [{ name, colour: colourOf(phase), points: perSecond('acceptedEachSecond' in phase ? phase.acceptedEachSecond : phase.bookedEachSecond) }];
    }),
    ...(p.soak === undefined ? [] : [{ name: 'soak (fixed rate)', colour: PALETTE[6], points: perSecond(p.soak.acceptedEachSecond) }]),
  ];
  writeFileSync(
    files.throughput,
    lineChart({
      title: `Accepted (booked) messages per second, over each phase${p.baseline === undefined ? '' : ` (baseline, off this scale: ${Math.round(p.baseline.acceptedPerSecond)}/s)`}`,
      xLabel: 'second of the phase',
      yLabel: 'messages / s',
      series: throughput,
    }),
  );

  const series = record.gatewayProcess.series;
  const since = (at: number): number => (at - record.gatewayProcess.startedAt) / 1000;
  const starts: [string, { startedAt: number } | undefined][] = [
    ['warm-up', p.warmup],
    ['spread', p.gateway],
    ['hot', p.hot],
    ['fixed rate', p.fixedRate],
    ['baseline', p.baseline],
    ['floor', p.floorSpread],
    ['read', p.read?.small.gateway],
    ['soak', p.soak],
  ];
  writeFileSync(
    files.memory,
    lineChart({
      title: 'Gateway process: resident memory over the run',
      xLabel: 'seconds since the gateway started',
      yLabel: 'RSS, MiB',
      series: [{ name: 'gateway RSS', points: series.map(([t, rss]) => [t, rss / 2 ** 20] as const) }],
      markers: starts.flatMap(([label, phase]) => (phase === undefined ? [] : [{ x: since(phase.startedAt), label }])),
    }),
  );
}
