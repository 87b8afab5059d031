/**
 * Line charts as standalone SVG text, for the plots the harnesses commit next to their JSON: no plotting library,
 * no browser, the same bytes on every machine. One chart type covers what we draw — several named series of (x, y)
 * points, linear or logarithmic x — with axes, "nice" ticks, a legend and a title.
 */

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  /** Dashed line (a reference, e.g. a target). */
  readonly dashed?: boolean;
  /** CSS colour; default the palette's next one (give it when the same series appears in several charts). */
  readonly colour?: string;
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly xScale?: 'linear' | 'log';
  /** Force the y axis to start at 0 (default true). */
  readonly yFromZero?: boolean;
  /** Vertical lines with a label at the top (phase boundaries). */
  readonly markers?: readonly { readonly x: number; readonly label: string }[];
  /** Pixels, of the chart without its legend (which adds its own width on the right). */
  readonly width?: number;
  readonly height?: number;
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'] as const;
const MARGIN = { left: 72, right: 20, top: 40, bottom: 56 } as const;
const LEGEND_LINE_PX = 16;
/** Legend text width estimate, per character of a series name (12 px sans-serif). */
const LEGEND_CHAR_PX = 7;
/** Legend sample line and gaps around it. */
const LEGEND_SAMPLE_PX = 40;

export function lineChart(options: LineChartOptions): string {
  // The legend sits right of the plot, so it never hides a line: the chart grows by its width.
  const legendW = options.series.length === 0 ? 0 : LEGEND_SAMPLE_PX + LEGEND_CHAR_PX * Math.max(...options.series.map((s) => s.name.length));
  const plotWidth = options.width ?? 760;
  const width = plotWidth + legendW;
  const height = options.height ?? 420;
  const log = options.xScale === 'log';
  const points = options.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!log || x > 0));
  const plotW = plotWidth - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escape(options.title)}</text>`,
  ];
  if (points.length === 0) {
    parts.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle">no data</text></svg>`);
    return `${parts.join('\n')}\n`;
  }

  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  const fx = log ? Math.log10 : (v: number) => v;
  let [xMin, xMax] = [fx(Math.min(...xs)), fx(Math.max(...xs))];
  if (xMin === xMax) [xMin, xMax] = [xMin - 1, xMax + 1];
  const yTicks = niceTicks(options.yFromZero === false ? Math.min(...ys) : Math.min(0, ...ys), Math.max(...ys));
  const [yMin, yMax] = [yTicks[0]!, yTicks[yTicks.length - 1]!];
  const px = (x: number): number => MARGIN.left + ((fx(x) - xMin) / (xMax - xMin)) * plotW;
  const py = (y: number): number => MARGIN.top + plotH - ((y - yMin) / (yMax - yMin || 1)) * plotH;

  // grid and ticks
  const xTicks = log ? logTicks(10 ** xMin, 10 ** xMax) : niceTicks(xMin, xMax);
  for (const t of xTicks) {
    const x = px(t).toFixed(1);
    parts.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${tickText(t)}</text>`);
  }
  for (const t of yTicks) {
    const y = py(t).toFixed(1);
    parts.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${tickText(t)}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${height - 14}" text-anchor="middle">${escape(options.xLabel)}</text>`);
  parts.push(
    `<text x="16" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${MARGIN.top + plotH / 2})">${escape(options.yLabel)}</text>`,
  );

  for (const marker of options.markers ?? []) {
    if (!Number.isFinite(marker.x) || (log && marker.x <= 0)) continue;
    const x = px(marker.x).toFixed(1);
    parts.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#999" stroke-dasharray="3 3"/>`);
    parts.push(`<text x="${x}" y="${MARGIN.top + plotH - 4}" font-size="10" fill="#555" transform="rotate(-90 ${x} ${MARGIN.top + plotH - 4})" dx="2" dy="-3">${escape(marker.label)}</text>`);
  }

  // series, and the legend right of the plot
  const legend: string[] = [];
  const legendX = plotWidth;
  options.series.forEach((series, i) => {
    const colour = series.colour ?? PALETTE[i % PALETTE.length]!;
    const path = series.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!log || x > 0))
      .map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`)
      .join(' ');
    if (path !== '') {
      parts.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="1.6"${series.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`);
    }
    const ly = MARGIN.top + 10 + i * LEGEND_LINE_PX;
    const lx = legendX;
    legend.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${colour}" stroke-width="2.5"${series.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`);
    legend.push(`<text x="${lx + 28}" y="${ly}" dominant-baseline="middle">${escape(series.name)}</text>`);
  });
  parts.push(...legend, '</svg>');
  return `${parts.join('\n')}\n`;
}

/** About five round ticks covering [min, max] (1, 2 or 5 × a power of ten apart). */
export function niceTicks(min: number, max: number): number[] {
  if (!(max > min)) return [min, min + 1];
  const raw = (max - min) / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let t = Math.floor(min / step) * step; t <= max + step * 1e-9 || ticks.length < 2; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

/** 1, 2, 5 × powers of ten inside [min, max] (log axes). */
function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let power = Math.floor(Math.log10(min)); power <= Math.ceil(Math.log10(max)); power++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** power;
      if (t >= min * 0.999 && t <= max * 1.001) ticks.push(Number(t.toPrecision(6)));
    }
  }
  return ticks;
}

function tickText(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${Number((value / 1e6).toPrecision(3))}M`;
  if (abs >= 1e4) return `${Number((value / 1e3).toPrecision(3))}k`;
  return String(Number(value.toPrecision(4)));
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
