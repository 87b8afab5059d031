/**
 * Exact decimal arithmetic for ISO 20022 amounts, on bigint. Amounts never pass through `number`:
 * `0.1 + 0.2` must equal `0.3`, and 18 significant digits must survive.
 */
import type { Decimal } from './model.ts';

/** XSD `xs:decimal` lexical form, restricted to what ISO amount types allow (no exponent). */
const DECIMAL_TEXT = /^([+-]?)(\d*)(?:\.(\d*))?$/;

/**
 * Parses the exact decimal text of an element (`"1250.50"`, `"+0.5"`, `"7."`).
 * Returns `undefined` for text that is not an `xs:decimal` (the schema rejects it first in practice).
 */
export function parseDecimal(text: string): Decimal | undefined {
  const trimmed = text.trim();
  const match = DECIMAL_TEXT.exec(trimmed);
  if (match === null) return undefined;
  const [, sign = '', intPart = '', fracPart = ''] = match;
  if (intPart === '' && fracPart === '') return undefined;
  const digits = `${intPart}${fracPart}`.replace(/^0+(?=\d)/, '') || '0';
  const magnitude = BigInt(digits);
  return { coefficient: sign === '-' ? -magnitude : magnitude, scale: fracPart.length };
}

/** Scales `value` up to `scale` fractional digits (exact; `scale` must not be below `value.scale`). */
function rescale(value: Decimal, scale: number): bigint {
  return value.coefficient * 10n ** BigInt(scale - value.scale);
}

export function addDecimals(values: readonly Decimal[]): Decimal {
  const scale = values.reduce((max, v) => Math.max(max, v.scale), 0);
  let sum = 0n;
  for (const v of values) sum += rescale(v, scale);
  return { coefficient: sum, scale };
}

/** Compares two decimals by value (`1.50` equals `1.5`). Returns -1, 0 or 1. */
export function compareDecimals(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const scale = Math.max(a.scale, b.scale);
  const x = rescale(a, scale);
  const y = rescale(b, scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Number of fractional digits actually used (`1250.50` → 1, `7.000` → 0). */
export function significantScale(value: Decimal): number {
  let { coefficient, scale } = value;
  while (scale > 0 && coefficient % 10n === 0n) {
    coefficient /= 10n;
    scale -= 1;
  }
  return scale;
}

/**
 * Converts to integer minor units of a currency with `exponent` decimals, exactly.
 * Returns `undefined` when the value has more significant decimals than the currency allows
 * (`12.345` EUR), so the caller can reject it rather than round money.
 */
export function toMinorUnits(value: Decimal, exponent: number): bigint | undefined {
  if (significantScale(value) > exponent) return undefined;
  if (value.scale <= exponent) return rescale(value, exponent);
  return value.coefficient / 10n ** BigInt(value.scale - exponent);
}

/** Canonical text of a decimal (`125050n, 2` → `"1250.50"`), for messages and logs. */
export function formatDecimal(value: Decimal): string {
  const negative = value.coefficient < 0n;
  const digits = (negative ? -value.coefficient : value.coefficient).toString().padStart(value.scale + 1, '0');
  const text = value.scale === 0 ? digits : `${digits.slice(0, -value.scale)}.${digits.slice(-value.scale)}`;
  return negative ? `-${text}` : text;
}
