import { describe, expect, it } from 'vitest';
import { addDecimals, compareDecimals, formatDecimal, parseDecimal, significantScale, toMinorUnits } from '../../src/iso20022/decimal.ts';

const d = (text: string) => {
  const value = parseDecimal(text);
  if (value === undefined) throw new Error(`not a decimal: ${text}`);
  return value;
};

describe('exact decimals', () => {
  it('parses the exact text without passing through a float', () => {
    expect(d('1250.50')).toEqual({ coefficient: 125050n, scale: 2 });
    expect(d('0.1')).toEqual({ coefficient: 1n, scale: 1 });
    expect(d('7.')).toEqual({ coefficient: 7n, scale: 0 });
    expect(d('.5')).toEqual({ coefficient: 5n, scale: 1 });
    expect(d('+0012.30')).toEqual({ coefficient: 1230n, scale: 2 });
    // 18 significant digits survive (a double keeps ~15.9).
    expect(d('1234567890123.45678')).toEqual({ coefficient: 123456789012345678n, scale: 5 });
  });

  it('refuses text that is not an xs:decimal', () => {
    for (const text of ['', '.', '1e5', '1,5', 'abc', '1.2.3', 'NaN']) expect(parseDecimal(text)).toBeUndefined();
  });

  it('adds exactly: 0.1 + 0.2 is 0.3', () => {
    expect(compareDecimals(addDecimals([d('0.1'), d('0.2')]), d('0.3'))).toBe(0);
    expect(formatDecimal(addDecimals([d('11250.00'), d('742.18')]))).toBe('11992.18');
  });

  it('compares by value whatever the scale', () => {
    expect(compareDecimals(d('1.5'), d('1.50'))).toBe(0);
    expect(compareDecimals(d('1.49'), d('1.5'))).toBe(-1);
    expect(compareDecimals(d('10'), d('9.999'))).toBe(1);
  });

  it('converts to minor units only when no significant digit is lost', () => {
    expect(toMinorUnits(d('1250.50'), 2)).toBe(125050n);
    expect(toMinorUnits(d('1250.5'), 2)).toBe(125050n);
    expect(toMinorUnits(d('1250.500'), 2)).toBe(125050n);
    expect(toMinorUnits(d('125000'), 0)).toBe(125000n);
    expect(toMinorUnits(d('1520.375'), 3)).toBe(1520375n);
    expect(toMinorUnits(d('12.345'), 2)).toBeUndefined();
    expect(toMinorUnits(d('1.5'), 0)).toBeUndefined();
  });

  it('knows how many decimals are actually used', () => {
    expect(significantScale(d('7.000'))).toBe(0);
    expect(significantScale(d('1250.50'))).toBe(1);
  });

  it('formats canonically', () => {
    expect(formatDecimal({ coefficient: 5n, scale: 3 })).toBe('0.005');
    expect(formatDecimal({ coefficient: -125050n, scale: 2 })).toBe('-1250.50');
    expect(formatDecimal({ coefficient: 42n, scale: 0 })).toBe('42');
  });
});
