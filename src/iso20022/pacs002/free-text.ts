/**
 * Laying free text out over a repeated MaxNNNText element (AddtlInf is Max105Text,
 * repeatable): split rather than truncate, so no part of a rejection explanation is lost.
 */

const WHITESPACE = /\s/u;

/**
 * Splits free text into pieces of at most `maxLength` code points, for a repeated
 * MaxNNNText element. Breaks after whitespace where one is available so words stay
 * whole; whitespace is kept, never dropped, so `pieces.join('')` equals `text`.
 *
 * @throws TypeError if `text` is empty or `maxLength` is below 1.
 */
export function splitText(text: string, maxLength: number): string[] {
  if (text.length === 0) throw new TypeError('splitText: text must not be empty');
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new TypeError(`splitText: maxLength must be a positive integer, got ${String(maxLength)}`);
  }
  const chars = [...text];
  const pieces: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = Math.min(start + maxLength, chars.length);
    if (end < chars.length && !WHITESPACE.test(chars[end] ?? '')) {
      // Back up to just after the last whitespace in this window, if there is one.
      let cut = end;
      while (cut > start && !WHITESPACE.test(chars[cut - 1] ?? '')) cut--;
      if (cut > start) end = cut;
    }
    pieces.push(chars.slice(start, end).join(''));
    start = end;
  }
  return pieces;
}

/** Appended to the last kept piece when text had to be truncated, so the reader can tell. */
export const TRUNCATION_MARK = '…';

/**
 * Lays several free-text entries out as occurrences of one repeated MaxNNNText element
 * (AddtlInf): each entry is split with {@link splitText}, entries never share a piece.
 * Only if that needs more than `maxOccurs` occurrences is the text truncated — the last
 * kept piece then ends in {@link TRUNCATION_MARK}.
 *
 * @throws TypeError if an entry is empty, or `maxLength` < 2 or `maxOccurs` < 1.
 */
export function layOutFreeText(entries: readonly string[], maxLength: number, maxOccurs: number): string[] {
  if (!Number.isInteger(maxLength) || maxLength < 2 || !(maxOccurs >= 1)) {
    throw new TypeError(`layOutFreeText: need maxLength ≥ 2 and maxOccurs ≥ 1, got ${String(maxLength)} and ${String(maxOccurs)}`);
  }
  const pieces = entries.flatMap((entry) => splitText(entry, maxLength));
  if (pieces.length <= maxOccurs) return pieces;
  const kept = pieces.slice(0, maxOccurs);
  const last = [...(kept.pop() ?? '')];
  kept.push(last.slice(0, maxLength - 1).join('') + TRUNCATION_MARK);
  return kept;
}
