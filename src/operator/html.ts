/**
 * HTML built from tagged templates that escape every interpolated value unless it is already HTML we built
 * (SafeHtml). Everything the operator's page shows comes from the database — pacs.002 documents, endpoint URLs,
 * error texts a partner's server chose — so escaping is the default and opting out takes a SafeHtml, which only
 * this module and the templates make. No HTML is ever assembled by string concatenation elsewhere.
 */

/** Markup that is already safe to emit as is (made by `html`, or by `raw` for constant text). */
export interface SafeHtml {
  readonly __html: string;
}

function safe(text: string): SafeHtml {
  return Object.freeze({ __html: text });
}

function isSafeHtml(value: unknown): value is SafeHtml {
  return typeof value === 'object' && value !== null && typeof (value as { __html?: unknown }).__html === 'string';
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text → HTML text or attribute value (quoted attributes only: every template quotes its attributes). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character]!);
}

/**
 * `html\`<td>${value}</td>\``: strings, numbers and bigints are escaped; SafeHtml is inserted as is; arrays are
 * joined (each element by the same rules); null, undefined and false render nothing (for `cond && html\`…\``).
 */
export function html(strings: TemplateStringsArray, ...values: readonly unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? '');
  });
  return safe(out);
}

/** Constant markup written in our own code (never a value from the database or the request). */
export function raw(markup: string): SafeHtml {
  return safe(markup);
}

function render(value: unknown): string {
  if (value === null || value === undefined || value === false) return '';
  if (isSafeHtml(value)) return value.__html;
  if (Array.isArray(value)) return value.map(render).join('');
  if (typeof value === 'string') return escapeHtml(value);
  if (typeof value === 'number' || typeof value === 'bigint' || value === true) return escapeHtml(String(value));
  // An object would render as "[object Object]": a bug in a template, not something to show an operator.
  throw new TypeError(`html: cannot interpolate a ${typeof value}`);
}
