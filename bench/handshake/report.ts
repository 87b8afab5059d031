/**
 * The handshake bench's output: Markdown tables on stdout (pasted as they are into bench/README.md); the record
 * itself goes to bench/results/handshake.json.
 */
import type { HandshakeRecord, ScenarioId, ScenarioResult, TargetId } from './bench.ts';

const SCENARIO_LABELS: Record<ScenarioId, string> = {
  full: 'full handshake + 1 request',
  resumed: 'resumed handshake + 1 request',
  keepalive: 'keep-alive request',
};

const TARGET_LABELS: Record<TargetId, string> = {
  plain: 'plain HTTP (no TLS, reference)',
  baseline: 'baseline: bare node:https mTLS',
  'gateway-health': 'gateway /health/live (no auth)',
  gateway: 'gateway /partners/me (full auth)',
};

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i < 2 ? `${'-'.repeat(w + 2)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Milliseconds with sensible precision: 0.123, 1.23, 12.3. */
export const msText = (value: number): string => (Number.isNaN(value) ? '–' : Math.abs(value) >= 10 ? value.toFixed(1) : Math.abs(value) >= 1 ? value.toFixed(2) : value.toFixed(3));
const signed = (value: number): string => (Number.isNaN(value) ? '–' : `${value >= 0 ? '+' : '−'}${msText(Math.abs(value))}`);
const times = (ratio: number): string => `${ratio.toFixed(2)}×`;

function p50(scenarios: readonly ScenarioResult[], scenario: ScenarioId, target: TargetId): number {
  const found = scenarios.find((s) => s.id === scenario);
  if (found === undefined || found.refused !== undefined) return Number.NaN;
  return found.targets.find((t) => t.target === target)?.totalMs.p50 ?? Number.NaN;
}

export function formatLatency(record: HandshakeRecord): string {
  const rows = record.scenarios.flatMap((scenario) =>
    scenario.targets.map((t) => {
      if (scenario.refused !== undefined) return [SCENARIO_LABELS[scenario.id], TARGET_LABELS[t.target], 'REFUSED', '', '', '', '', '', '', ''];
      return [
        SCENARIO_LABELS[scenario.id],
        TARGET_LABELS[t.target],
        String(t.samples),
        msText(t.totalMs.p50),
        msText(t.totalMs.p90),
        msText(t.totalMs.p99),
        msText(t.totalMs.mean),
        t.handshakeMs === undefined ? '' : msText(t.handshakeMs.p50),
        msText(t.serverCpuMsPerRequest),
        msText(t.clientCpuMsPerRequest),
      ];
    }),
  );
  return table(['client-seen, ms', 'target', 'n', 'p50', 'p90', 'p99', 'mean', 'handshake p50', 'server CPU / req', 'client CPU / req'], rows);
}

export function formatComparison(record: HandshakeRecord): string {
  const rows = record.scenarios.map((s) => {
    const r = s.gatewayOverBaseline;
    const d = s.gatewayMinusBaselineMs;
    if (r === null || d === null) return [SCENARIO_LABELS[s.id], 'gateway vs baseline', s.refused === undefined ? '–' : 'REFUSED', '', '', '', '', '', ''];
    return [SCENARIO_LABELS[s.id], 'gateway vs baseline', times(r.p50), times(r.p90), times(r.p99), times(r.mean), signed(d.p50), signed(d.mean), signed(d.serverCpu)];
  });
  return table(['scenario', '', '÷ p50', '÷ p90', '÷ p99', '÷ mean', 'Δ p50 ms', 'Δ mean ms', 'Δ server CPU ms'], rows);
}

export function formatReuse(record: HandshakeRecord): string {
  const lines = record.scenarios.flatMap((s) =>
    s.targets.flatMap((t) =>
      t.sessionReuse === undefined || t.target === 'plain'
        ? []
        : [`${s.id}/${t.target} ${t.sessionReuse.resumed}/${t.sessionReuse.connections} (${(t.sessionReuse.rate * 100).toFixed(1)} %)`],
    ),
  );
  const refused = record.scenarios.filter((s) => s.refused !== undefined).map((s) => `\n**${s.id}: numbers withheld — ${s.refused}**`);
  const first = record.scenarios.find((s) => s.id === 'full')?.targets.find((t) => t.target === 'baseline');
  const negotiated = first === undefined ? '' : ` Negotiated: ${first.protocol}, ${first.cipher}, key exchange ${first.group}.`;
  return `TLS sessions resumed: ${lines.join(', ')}.${negotiated}${refused.join('')}`;
}

/** The differences the published figures speak about, from the p50s of this run. */
export function claimRows(record: HandshakeRecord): { what: string; ms: number; claim: string }[] {
  const s = record.scenarios;
  return [
    { what: 'TLS 1.3 mTLS on a new connection: baseline full − plain full (new TCP connection, no TLS)', ms: p50(s, 'full', 'baseline') - p50(s, 'full', 'plain'), claim: '1–3 ms' },
    { what: 'new mTLS connection instead of a keep-alive request: baseline full − baseline keep-alive', ms: p50(s, 'full', 'baseline') - p50(s, 'keepalive', 'baseline'), claim: '1–3 ms' },
    { what: 'resumed instead of full: baseline resumed − baseline full', ms: p50(s, 'resumed', 'baseline') - p50(s, 'full', 'baseline'), claim: '' },
    { what: 'mTLS on a keep-alive request: baseline − plain (keep-alive)', ms: p50(s, 'keepalive', 'baseline') - p50(s, 'keepalive', 'plain'), claim: '< 0.1 ms' },
    { what: 'gateway process without auth (Fastify, hooks): /health/live − baseline, keep-alive', ms: p50(s, 'keepalive', 'gateway-health') - p50(s, 'keepalive', 'baseline'), claim: '' },
    { what: 'gateway process without auth (Fastify, hooks): /health/live − baseline, full handshake', ms: p50(s, 'full', 'gateway-health') - p50(s, 'full', 'baseline'), claim: '' },
    { what: 'auth stack: /partners/me − /health/live, keep-alive', ms: p50(s, 'keepalive', 'gateway') - p50(s, 'keepalive', 'gateway-health'), claim: '' },
    { what: 'auth stack: /partners/me − /health/live, resumed handshake', ms: p50(s, 'resumed', 'gateway') - p50(s, 'resumed', 'gateway-health'), claim: '' },
    { what: 'auth stack: /partners/me − /health/live, full handshake', ms: p50(s, 'full', 'gateway') - p50(s, 'full', 'gateway-health'), claim: '' },
  ];
}

export function formatClaims(record: HandshakeRecord): string {
  const rows = claimRows(record).map((row) => [row.what, row.claim, signed(row.ms)]);
  const widths = [Math.max(...rows.map((r) => r[0]!.length), 'difference of p50s'.length), Math.max(...rows.map((r) => r[1]!.length), 'published'.length), 8];
  const line = (cells: string[]): string => `| ${cells[0]!.padEnd(widths[0]!)} | ${cells[1]!.padEnd(widths[1]!)} | ${cells[2]!.padStart(widths[2]!)} |`;
  return [line(['difference of p50s', 'published', 'ms']), `|${'-'.repeat(widths[0]! + 2)}|${'-'.repeat(widths[1]! + 2)}|${'-'.repeat(widths[2]! + 1)}:|`, ...rows.map(line)].join('\n');
}

export function formatAll(record: HandshakeRecord): string {
  return [formatLatency(record), formatComparison(record), formatClaims(record), formatReuse(record)].join('\n\n');
}
