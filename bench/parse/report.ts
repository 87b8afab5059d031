/**
 * The bench's output: Markdown tables on stdout (pasted as they are into bench/README.md) and the
 * machine-readable record in bench/results/parse.json.
 */
import { OP, OPERATION_LABELS, type OperationName } from './operations.ts';
import type { Summary } from './measure.ts';

/** The issue's target: the whole check (parse + XSD + read + rules) of a ~10 KB message, p50. */
export const TARGET = { messages: ['10tx-compact', '10tx'], operation: OP.whole, p50MicrosMax: 500 } as const;

export interface MessageResult {
  readonly id: string;
  readonly transactions: number;
  readonly xmlBytes: number;
  readonly jsonBytes: number;
  readonly iterations: number;
  readonly warmup: number;
  readonly operations: Record<OperationName, Summary>;
  readonly ratios: Ratios;
}

export interface Ratios {
  /** whole p50 / JSON baseline p50: what XML + XSD + rules costs over JSON + JSON Schema. */
  readonly wholeOverJson: number;
  /** fast-xml-parser p50 / libxml2 parse p50. */
  readonly fxpOverLibxml2: number;
  /** whole p50 / libxml2 parse p50: how far the whole check is above its parse floor. */
  readonly wholeOverParse: number;
  /** (parse + xsd + read + rules) p50 / whole p50: the stages account for the whole (≈ 1). */
  readonly stagesOverWhole: number;
}

export function ratiosOf(ops: Record<OperationName, Summary>): Ratios {
  const p = (name: OperationName): number => ops[name].p50;
  return {
    wholeOverJson: p(OP.whole) / p(OP.json),
    fxpOverLibxml2: p(OP.fxp) / p(OP.parse),
    wholeOverParse: p(OP.whole) / p(OP.parse),
    stagesOverWhole: (p(OP.parse) + p(OP.xsd) + p(OP.read) + p(OP.rules)) / p(OP.whole),
  };
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
const us = (micros: number): string => (micros >= 100 ? micros.toFixed(0) : micros.toFixed(1));
const times = (ratio: number): string => `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(1)}×`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function formatResults(results: readonly MessageResult[]): string {
  const header = ['µs, p50 / p99', ...results.map((r) => `${r.id} (${kb(r.xmlBytes)} XML, ${kb(r.jsonBytes)} JSON)`)];
  const rows = (Object.values(OP) as OperationName[]).map((name) => [
    OPERATION_LABELS[name],
    ...results.map((r) => `${us(r.operations[name].p50)} / ${us(r.operations[name].p99)}`),
  ]);
  const ratioRows: [string, (r: Ratios) => number][] = [
    ['whole ÷ JSON baseline', (r) => r.wholeOverJson],
    ['fast-xml-parser ÷ libxml2 parse', (r) => r.fxpOverLibxml2],
    ['whole ÷ libxml2 parse (parse floor)', (r) => r.wholeOverParse],
    ['(parse + XSD + read + rules) ÷ whole', (r) => r.stagesOverWhole],
  ];
  const ratios = table(
    ['ratios of p50', ...results.map((r) => r.id)],
    ratioRows.map(([label, f]) => [label, ...results.map((r) => (label.startsWith('(') ? f(r.ratios).toFixed(2) : times(f(r.ratios))))]),
  );
  const iterations = results.map((r) => `${r.id} ${r.iterations} (+${r.warmup} warm-up)`).join(', ');
  return `${table(header, rows)}\n\n${ratios}\n\nTimed calls per operation: ${iterations}.`;
}

export function formatTarget(results: readonly MessageResult[]): string {
  const lines = TARGET.messages.flatMap((id) => {
    const result = results.find((r) => r.id === id);
    if (result === undefined) return [];
    const p50 = result.operations[TARGET.operation].p50;
    const verdict = p50 <= TARGET.p50MicrosMax ? 'MET' : 'NOT MET';
    return [`  ${result.id} (${kb(result.xmlBytes)}): ${us(p50)} µs — ${verdict}`];
  });
  return [`Target: the whole check of a ~10 KB pacs.008 at p50 ≤ ${TARGET.p50MicrosMax} µs.`, ...lines].join('\n');
}
