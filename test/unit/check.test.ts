/**
 * The message core end to end on in-memory input: what it reads from each input shape, its limits, and
 * that nothing it is given makes it throw.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MESSAGE_LIMITS, type CheckedMessage, type CheckResult } from '../../src/iso20022/index.ts';
import { check, readFixture } from '../support/fixtures.ts';

function checked(result: CheckResult): CheckedMessage {
  if (result.kind !== 'checked') throw new Error(`expected a checked message, got ${JSON.stringify(result.reasons)}`);
  return result;
}

describe('reading the typed model', () => {
  it('keeps identifiers as exact strings and amounts as bigint minor units', () => {
    const xml = readFixture('accept/shapes/bah-swift-envelope.xml').toString('utf8')
      .replace('<TxId>DEUT26112100004733</TxId>', '<TxId>011104238</TxId>');
    const result = checked(check(xml));
    const tx = result.message?.transactions[0];
    expect(tx?.transactionId).toBe('011104238');
    expect(tx?.settlementAmount).toMatchObject({ currency: 'EUR', text: '12840.00', value: { coefficient: 1284000n, scale: 2 } });
    expect(result.transactions[0]?.settlement).toEqual({ minor: 1284000n, currency: 'EUR' });
    expect(result.message?.header).toMatchObject({ version: 2, businessMessageId: 'DEUT20261121-CBPR-0042501', from: { bic: 'DEUTDEFFXXX' } });
  });

  it('keeps repeatable elements as arrays even with one occurrence', () => {
    const tx = checked(check(readFixture('accept/shapes/bah-swift-envelope.xml'))).message?.transactions[0];
    expect(tx?.remittanceUnstructured).toEqual(['Invoice BPP-26-40190 machined aluminium frames']);
    expect(tx?.charges).toEqual([]);
    expect(tx?.instructionsForCreditorAgent).toEqual([]);
  });

  it('converts 0-, 2- and 3-decimal currencies exactly', () => {
    const jpy = checked(check(readFixture('accept/versions/pacs.008.001.05--bare-document.xml')));
    expect(jpy.transactions[0]?.settlement).toEqual({ minor: 125000n, currency: 'JPY' });
    const kwd = checked(check(readFixture('accept/versions/pacs.008.001.10--bare-document.xml')));
    expect(kwd.transactions.map((t) => t.settlement?.currency)).toContain('KWD');
    expect(kwd.transactions.find((t) => t.settlement?.currency === 'KWD')?.settlement?.minor).toBe(1520375n);
  });

  it('takes the top-level Document, never the one nested in SplmtryData', () => {
    const result = checked(check(readFixture('accept/shapes/supplementary-data-nested-document.xml')));
    expect(result.identity.messageId).toBe('BNPA261121FR00830077');
  });

  it('reads prefixed elements with namespaces declared on the wrapper, a BOM and comments alike', () => {
    for (const file of ['prefixed-bah-and-document.xml', 'utf8-bom.xml', 'comments-everywhere.xml', 'prefixed-namespace.xml']) {
      const result = checked(check(readFixture(`accept/shapes/${file}`)));
      expect(result.accepted).toBe(true);
      expect(result.identity.messageId).toMatch(/\S/);
    }
  });

  it('reads BIC (v01–v02) and BICFI (v03+) alike', () => {
    for (const version of ['01', '02', '03', '14']) {
      const message = checked(check(readFixture(`accept/versions/pacs.008.001.${version}--bare-document.xml`))).message;
      expect(message?.transactions[0]?.debtorAgent.bic).toMatch(/^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/);
    }
  });

  it('identifies a schema-invalid message so that a pacs.002 can still answer it', () => {
    const result = checked(check(readFixture('reject/FF01--schema-unexpected-element.xml')));
    expect(result.message).toBeUndefined();
    expect(result.identity).toMatchObject({ messageId: 'DEUT20261121-CBPR-0042501', transactions: [{ endToEndId: 'SCH-INV-2026-40190' }] });
  });
});

describe('limits', () => {
  const threeTransactions = readFixture('accept/shapes/multi-currency-no-total.xml');

  it('refuses more transactions than the limit allows (AM18)', () => {
    const result = check(threeTransactions, { limits: { ...DEFAULT_MESSAGE_LIMITS, transactionsPerMessageMax: 2 } });
    expect(result.reasons.map((r) => [r.code, r.id])).toEqual([['AM18', 'TOO_MANY_TRANSACTIONS']]);
  });

  it('refuses a message over the byte limit before parsing it (FF01)', () => {
    const result = check(threeTransactions, { limits: { ...DEFAULT_MESSAGE_LIMITS, messageBytesMax: 1000 } });
    expect(result).toMatchObject({ kind: 'unreadable', reasons: [{ id: 'MESSAGE_TOO_LARGE', code: 'FF01' }] });
  });

  it('reports at most reasonsPerMessageMax reasons', () => {
    const many = readFixture('accept/shapes/bah-swift-envelope.xml').toString('utf8').replace(/<Nm>/g, '<Bad/><Nm>');
    const result = check(many, { limits: { ...DEFAULT_MESSAGE_LIMITS, reasonsPerMessageMax: 1 } });
    expect(result.reasons).toHaveLength(1);
  });

  it('handles an entity-expansion bomb fast and without expanding it', () => {
    const bomb = `<!DOCTYPE a [${Array.from({ length: 10 }, (_, i) => `<!ENTITY e${i + 1} "${`&e${i};`.repeat(10)}">`).join('')}<!ENTITY e0 "x">]><a>&e10;</a>`;
    expect(check(bomb).reasons.map((r) => r.id)).toEqual(['XML_DOCTYPE_FORBIDDEN']);
  });
});

describe('bad input never throws', () => {
  const inputs: [string, string | Uint8Array][] = [
    ['empty', ''],
    ['binary noise', new Uint8Array(Array.from({ length: 512 }, (_, i) => (i * 7919) % 256))],
    ['a bare text', 'hello'],
    ['an undefined entity', '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">&nope;</Document>'],
    ['an empty pacs.008 Document', '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"/>'],
    ['an AppHdr alone', '<AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02"/>'],
    ['a wrapper without children', '<Envelope/>'],
    ['an invalid UTF-8 sequence', new Uint8Array([0x3c, 0x61, 0x3e, 0xff, 0xfe, 0x3c, 0x2f, 0x61, 0x3e])],
  ];
  it.each(inputs)('%s gets reasons, not an exception', (_, input) => {
    const result = check(input);
    expect(result.accepted).toBe(false);
    expect(result.reasons.length).toBeGreaterThan(0);
    for (const r of result.reasons) expect(r.code).toMatch(/^[A-Z0-9]{4}$/);
  });
});
