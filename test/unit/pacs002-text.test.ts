import { describe, expect, it } from 'vitest';
import { TRUNCATION_MARK, layOutFreeText, splitText } from '../../src/iso20022/pacs002/free-text.ts';
import { assertAmount, assertIsoDate, assertIsoDateTime } from '../../src/iso20022/pacs002/simple-types.ts';

const len = (s: string): number => [...s].length;

describe('splitText', () => {
  it('keeps short text whole', () => {
    expect(splitText('AC03', 105)).toEqual(['AC03']);
    expect(splitText('x'.repeat(105), 105)).toEqual(['x'.repeat(105)]);
  });

  it('breaks after whitespace and loses nothing', () => {
    const text = 'alpha beta gamma delta';
    const pieces = splitText(text, 12);
    expect(pieces).toEqual(['alpha beta ', 'gamma delta']);
    expect(pieces.join('')).toBe(text);
  });

  it('hard-cuts a word longer than the limit', () => {
    expect(splitText('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
  });

  it('never splits a surrogate pair and counts code points', () => {
    const text = '😀'.repeat(7);
    const pieces = splitText(text, 3);
    expect(pieces).toEqual(['😀😀😀', '😀😀😀', '😀']);
  });

  it('throws TypeError on empty text or a bad limit', () => {
    expect(() => splitText('', 105)).toThrow(TypeError);
    expect(() => splitText('abc', 0)).toThrow(TypeError);
  });
});

describe('layOutFreeText', () => {
  it('splits each entry separately, in order', () => {
    expect(layOutFreeText(['ab', 'cdefg'], 3, Infinity)).toEqual(['ab', 'cde', 'fg']);
  });

  it('truncates only when maxOccurs runs out, and marks the cut', () => {
    const text = 'one two three four five six';
    expect(layOutFreeText([text], 10, 10).join('')).toBe(text);
    const capped = layOutFreeText([text], 10, 2);
    expect(capped).toHaveLength(2);
    expect(capped[0]).toBe('one two ');
    expect(capped[1]?.endsWith(TRUNCATION_MARK)).toBe(true);
    for (const piece of capped) expect(len(piece)).toBeLessThanOrEqual(10);
  });

  it('throws TypeError on bad limits', () => {
    expect(() => layOutFreeText(['a'], 1, 1)).toThrow(TypeError);
    expect(() => layOutFreeText(['a'], 105, 0)).toThrow(TypeError);
  });
});

describe('simple-type checks', () => {
  it('ISO dates', () => {
    expect(() => assertIsoDate('d', '2028-02-29')).not.toThrow();
    for (const bad of ['2026-02-29', '2026-13-01', '2026-1-01', '2026-11-21Z', 20261121]) {
      expect(() => assertIsoDate('d', bad)).toThrow(TypeError);
    }
  });

  it('ISO date-times', () => {
    for (const ok of ['2026-11-21T10:15:00', '2026-11-21T10:15:00.123Z', '2026-11-21T23:59:59+14:00', '2026-11-21T00:00:00.5-05:30']) {
      expect(() => assertIsoDateTime('t', ok)).not.toThrow();
    }
    for (const bad of ['2026-11-21', '2026-11-21T24:00:00Z', '2026-11-21T10:60:00Z', '2026-11-21T10:15:00+15:00', '2026-11-21T10:15Z']) {
      expect(() => assertIsoDateTime('t', bad)).toThrow(TypeError);
    }
  });

  it('amounts: non-negative, ≤ 5 fraction digits, ≤ 18 digits', () => {
    for (const ok of ['0', '0.5', '10.00', '123456789012345678', '1234567890123.45678', '000123.10000']) {
      expect(() => assertAmount('a', ok)).not.toThrow();
    }
    for (const bad of ['-1', '1.', '.5', '1e3', '1.123456', '1234567890123456789', '12345678901234.56789', '1,00', ' 1']) {
      expect(() => assertAmount('a', bad)).toThrow(TypeError);
    }
  });
});
