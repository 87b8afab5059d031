/**
 * Checks for the XSD simple types pacs.002 uses, so a caller mistake surfaces as a
 * TypeError naming the field instead of as a schema failure at the partner.
 * Lengths are counted in Unicode code points, as XSD length facets are.
 */

/** Anything outside the XML 1.0 `Char` production (includes lone surrogates under /u). */
const NON_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Length in code points, which is what XSD minLength/maxLength count. */
export function codePointLength(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

/**
 * Asserts `value` is a string of `min`–`max` code points that XML can carry.
 *
 * @param field - the caller-facing path, used in the error message.
 * @throws TypeError otherwise.
 */
export function assertText(field: string, value: unknown, min: number, max: number): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`${field} must be a string, got ${typeof value}`);
  const length = codePointLength(value);
  if (length < min || length > max) {
    throw new TypeError(`${field} must be ${String(min)}–${String(max)} characters, got ${String(length)}: ${JSON.stringify(value)}`);
  }
  if (NON_XML_CHAR.test(value)) {
    throw new TypeError(`${field} contains a character XML 1.0 cannot carry: ${JSON.stringify(value)}`);
  }
  if (value.includes('\r')) {
    // XML parsers turn CR into LF, so the partner would read back a different value.
    throw new TypeError(`${field} contains a carriage return, which does not survive XML parsing: ${JSON.stringify(value)}`);
  }
}

/** Asserts `value` matches `pattern` (a string-typed XSD pattern facet). */
export function assertPattern(field: string, value: unknown, pattern: RegExp, what: string): asserts value is string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new TypeError(`${field} must be ${what}, got ${JSON.stringify(value)}`);
  }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))?$/;

function isRealDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  // Day 0 of the next month is the last day of this one; UTC avoids DST surprises.
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Asserts `value` is an xs:date without time zone (`YYYY-MM-DD`, a real calendar day). */
export function assertIsoDate(field: string, value: unknown): asserts value is string {
  const m = typeof value === 'string' ? DATE.exec(value) : null;
  if (m === null || !isRealDate(Number(m[1]), Number(m[2]), Number(m[3]))) {
    throw new TypeError(`${field} must be an ISO date YYYY-MM-DD, got ${JSON.stringify(value)}`);
  }
}

/**
 * Asserts `value` is an xs:dateTime: `YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`.
 * Stricter than XSD in refusing 24:00:00 and years beyond 4 digits, which no partner expects.
 */
export function assertIsoDateTime(field: string, value: unknown): asserts value is string {
  const m = typeof value === 'string' ? DATE_TIME.exec(value) : null;
  const ok =
    m !== null &&
    isRealDate(Number(m[1]), Number(m[2]), Number(m[3])) &&
    Number(m[4]) <= 23 &&
    Number(m[5]) <= 59 &&
    Number(m[6]) <= 59 &&
    (m[9] === undefined || (Number(m[9]) * 60 + Number(m[10]) <= 14 * 60 && Number(m[10]) <= 59));
  if (!ok) {
    throw new TypeError(`${field} must be an ISO date-time like 2026-11-21T10:15:00.123Z, got ${JSON.stringify(value)}`);
  }
}

const AMOUNT = /^(\d+)(?:\.(\d+))?$/;

/**
 * Asserts `value` fits ActiveOrHistoricCurrencyAndAmount_SimpleType (and 02's
 * CurrencyAndAmount_SimpleType): a non-negative decimal, at most 5 fraction digits and
 * 18 significant digits. Kept as text so no amount ever passes through a binary float.
 */
export function assertAmount(field: string, value: unknown): asserts value is string {
  const m = typeof value === 'string' ? AMOUNT.exec(value) : null;
  const whole = m?.[1]?.replace(/^0+(?=\d)/, '') ?? '';
  const fraction = m?.[2] ?? '';
  const significant = (whole === '0' ? '' : whole) + fraction.replace(/0+$/, '');
  if (m === null || fraction.length > 5 || significant.length > 18) {
    throw new TypeError(
      `${field} must be a non-negative decimal with at most 18 digits, 5 of them after the point, got ${JSON.stringify(value)}`,
    );
  }
}
