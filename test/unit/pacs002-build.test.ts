import { readFileSync } from 'node:fs';
import path from 'node:path';
import { XmlDocument, XmlValidateError, XsdValidator } from 'libxml2-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPacs002 } from '../../src/iso20022/pacs002/build.ts';
import { pacs002Layout } from '../../src/iso20022/pacs002/layout.ts';
import type { StatusReport, TransactionStatusEntry } from '../../src/iso20022/pacs002/model.ts';
import { PACS002_VERSIONS } from '../../src/iso20022/pacs002/versions.ts';
import type { Pacs002Version } from '../../src/iso20022/pacs002/versions.ts';

const XSD_DIR = path.join(import.meta.dirname, '../../xsd');
const nn = (v: number): string => String(v).padStart(2, '0');

const validators = new Map<Pacs002Version, XsdValidator>();
const schemaDocs: XmlDocument[] = [];
function validatorFor(version: Pacs002Version): XsdValidator {
  let validator = validators.get(version);
  if (validator === undefined) {
    const schema = XmlDocument.fromBuffer(readFileSync(path.join(XSD_DIR, `pacs.002.001.${nn(version)}.xsd`)));
    schemaDocs.push(schema);
    validator = XsdValidator.fromDoc(schema);
    validators.set(version, validator);
  }
  return validator;
}
afterAll(() => {
  for (const v of validators.values()) v.dispose();
  for (const d of schemaDocs) d.dispose();
});

/** Parsed output: schema errors plus XPath helpers bound to the version's namespace. */
interface Parsed {
  readonly errors: string[];
  /** Text of every node matching `xpath` (prefix `p:`, `$R` = the message root element). */
  all(xpath: string): string[];
  one(xpath: string): string | undefined;
}

function parse(xml: string, version: Pacs002Version): Parsed {
  const layout = pacs002Layout(version);
  const doc = XmlDocument.fromString(xml);
  docs.push(doc);
  const errors: string[] = [];
  try {
    validatorFor(version).validate(doc);
  } catch (e) {
    if (!(e instanceof XmlValidateError)) throw e;
    errors.push(...e.details.map((d) => `${String(d.line)}:${String(d.col)} ${d.message.trim()}`));
  }
  const ns = { p: layout.namespace };
  const expand = (xpath: string): string => xpath.replaceAll('$R', `/p:Document/p:${layout.rootElement}`);
  return {
    errors,
    all: (xpath) => doc.find(expand(xpath), ns).map((n) => n.content),
    one: (xpath) => doc.get(expand(xpath), ns)?.content,
  };
}
const docs: XmlDocument[] = [];
afterAll(() => {
  for (const d of docs) d.dispose();
});

const UETR_1 = 'eb6305c9-1f7f-49de-aed0-16487c27b42d';
const UETR_2 = '7a1c6d2e-0b3f-4a5e-9c8d-1e2f3a4b5c6d';
const LONG_INFO =
  'Settlement amount exceeds the bilateral limit agreed for this currency corridor; ' +
  'the instruction was not forwarded to the clearing system and no funds were moved. ' +
  'Resubmit after the limit resets at 00:00 CET or split the payment.';

const header = {
  messageId: 'STS-20261121-0001',
  creationDateTime: '2026-11-21T10:15:00.123Z',
  instructingAgentBic: 'GATEDEFFXXX',
  instructedAgentBic: 'PARTGB2L',
  original: { messageId: 'PACS008-MSG-42', messageNameId: 'pacs.008.001.08', creationDateTime: '2026-11-21T10:14:59+01:00' },
} as const;

function accepted(): StatusReport {
  const tx = (n: number, uetr: string): TransactionStatusEntry => ({
    statusId: `STS-${String(n)}`,
    originalInstructionId: `INSTR-${String(n)}`,
    originalEndToEndId: `E2E-${String(n)}`,
    originalTransactionId: `TX-${String(n)}`,
    originalUetr: uetr,
    status: 'ACSC',
    reasons: [],
    acceptanceDateTime: '2026-11-21T10:15:00Z',
    originalSettlementAmount: { currency: 'EUR', text: `${String(n)}000.25` },
    originalSettlementDate: '2026-11-21',
  });
  return { ...header, groupStatus: 'ACSC', groupReasons: [], transactions: [tx(1, UETR_1), tx(2, UETR_2)] };
}

function rejected(): StatusReport {
  return {
    ...header,
    groupStatus: 'RJCT',
    groupReasons: [{ code: 'AM10', additionalInfo: [LONG_INFO] }],
    transactions: [
      { originalEndToEndId: 'E2E-1', originalUetr: UETR_1, status: 'RJCT', reasons: [{ code: 'AM10', additionalInfo: [] }] },
    ],
  };
}

const IBAN_PATH = '/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/CdtrAcct/Id/IBAN';
function partial(): StatusReport {
  return {
    ...header,
    groupStatus: 'PART',
    groupReasons: [],
    transactions: [
      { originalEndToEndId: 'E2E-1', originalUetr: UETR_1, status: 'ACSP', reasons: [] },
      { originalEndToEndId: 'E2E-2', originalUetr: UETR_2, status: 'RJCT', reasons: [{ code: 'AC03', additionalInfo: [IBAN_PATH] }] },
    ],
  };
}

describe.each(PACS002_VERSIONS.map((v) => [v]))('pacs.002.001.%i', (version) => {
  const layout = pacs002Layout(version);
  const bic = layout.version <= 3 ? 'BIC' : 'BICFI';
  const rsn = version === 2 ? 'p:StsRsn' : 'p:Rsn';
  const info = version === 2 ? 'p:AddtlStsRsnInf' : 'p:AddtlInf';

  it('writes the declaration and the version namespace', () => {
    const xml = buildPacs002(accepted(), version);
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true);
    expect(xml).toContain(`<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.${nn(version)}">`);
    expect(buildPacs002(accepted(), version)).toBe(xml);
  });

  it('the schema check is live: a mis-ordered or mis-valued document is reported', () => {
    const xml = buildPacs002(partial(), version);
    // TxSts moved ahead of OrgnlEndToEndId breaks the XSD sequence.
    const reordered = xml.replace(
      /(<OrgnlEndToEndId>E2E-2<\/OrgnlEndToEndId>\s*)(?:<OrgnlUETR>[^<]*<\/OrgnlUETR>\s*)?(<TxSts>RJCT<\/TxSts>)/,
      '$2$1',
    );
    expect(reordered).not.toBe(xml);
    expect(parse(reordered, version).errors).not.toEqual([]);
    expect(parse(xml.replace('<GrpSts>PART</GrpSts>', '<GrpSts>PARTX</GrpSts>'), version).errors).not.toEqual([]);
  });

  it('(a) all-accepted report is schema-valid and carries every reference', () => {
    const out = parse(buildPacs002(accepted(), version), version);
    expect(out.errors).toEqual([]);
    expect(out.one('$R/p:GrpHdr/p:MsgId')).toBe('STS-20261121-0001');
    expect(out.one('$R/p:GrpHdr/p:CreDtTm')).toBe('2026-11-21T10:15:00.123Z');
    expect(out.one(`$R/p:GrpHdr/p:InstgAgt/p:FinInstnId/p:${bic}`)).toBe('GATEDEFFXXX');
    expect(out.one(`$R/p:GrpHdr/p:InstdAgt/p:FinInstnId/p:${bic}`)).toBe('PARTGB2L');
    expect(out.one('$R/p:OrgnlGrpInfAndSts/p:OrgnlMsgId')).toBe('PACS008-MSG-42');
    expect(out.one('$R/p:OrgnlGrpInfAndSts/p:OrgnlMsgNmId')).toBe('pacs.008.001.08');
    expect(out.one('$R/p:OrgnlGrpInfAndSts/p:OrgnlCreDtTm')).toBe('2026-11-21T10:14:59+01:00');
    expect(out.one('$R/p:OrgnlGrpInfAndSts/p:GrpSts')).toBe('ACSC');
    expect(out.all('$R/p:OrgnlGrpInfAndSts/p:StsRsnInf')).toEqual([]);
    expect(out.all('$R/p:TxInfAndSts/p:TxSts')).toEqual(['ACSC', 'ACSC']);
    expect(out.all('$R/p:TxInfAndSts/p:StsId')).toEqual(['STS-1', 'STS-2']);
    expect(out.all('$R/p:TxInfAndSts/p:OrgnlInstrId')).toEqual(['INSTR-1', 'INSTR-2']);
    expect(out.all('$R/p:TxInfAndSts/p:OrgnlEndToEndId')).toEqual(['E2E-1', 'E2E-2']);
    expect(out.all('$R/p:TxInfAndSts/p:OrgnlTxId')).toEqual(['TX-1', 'TX-2']);
    expect(out.all('$R/p:TxInfAndSts/p:OrgnlUETR')).toEqual(version >= 10 ? [UETR_1, UETR_2] : []);
    expect(out.all('$R/p:TxInfAndSts/p:AccptncDtTm')).toEqual(['2026-11-21T10:15:00Z', '2026-11-21T10:15:00Z']);
    expect(out.all('$R/p:TxInfAndSts/p:OrgnlTxRef/p:IntrBkSttlmAmt')).toEqual(['1000.25', '2000.25']);
    expect(out.all('$R/p:TxInfAndSts/p:OrgnlTxRef/p:IntrBkSttlmAmt/@Ccy')).toEqual(['EUR', 'EUR']);
    expect(out.all('$R/p:TxInfAndSts/p:OrgnlTxRef/p:IntrBkSttlmDt')).toEqual(['2026-11-21', '2026-11-21']);
  });

  it('(b) rejected report is schema-valid and splits long AddtlInf losslessly', () => {
    const out = parse(buildPacs002(rejected(), version), version);
    expect(out.errors).toEqual([]);
    expect(out.one('$R/p:OrgnlGrpInfAndSts/p:GrpSts')).toBe('RJCT');
    expect(out.one(`$R/p:OrgnlGrpInfAndSts/p:StsRsnInf/${rsn}/p:Cd`)).toBe('AM10');
    const pieces = out.all(`$R/p:OrgnlGrpInfAndSts/p:StsRsnInf/${info}`);
    expect(LONG_INFO.length).toBeGreaterThan(210);
    expect(pieces.length).toBe(3);
    for (const piece of pieces) expect([...piece].length).toBeLessThanOrEqual(105);
    expect(pieces.join('')).toBe(LONG_INFO);
    expect(out.all('$R/p:TxInfAndSts/p:TxSts')).toEqual(['RJCT']);
    expect(out.all(`$R/p:TxInfAndSts/p:StsRsnInf/${rsn}/p:Cd`)).toEqual(['AM10']);
    expect(out.all(`$R/p:TxInfAndSts/p:StsRsnInf/${info}`)).toEqual([]);
  });

  it('(c) partially rejected report is schema-valid with the rejection reason on its transaction', () => {
    const out = parse(buildPacs002(partial(), version), version);
    expect(out.errors).toEqual([]);
    expect(out.one('$R/p:OrgnlGrpInfAndSts/p:GrpSts')).toBe('PART');
    expect(out.all('$R/p:TxInfAndSts/p:TxSts')).toEqual(['ACSP', 'RJCT']);
    expect(out.all('$R/p:TxInfAndSts/p:OrgnlEndToEndId')).toEqual(['E2E-1', 'E2E-2']);
    expect(out.all('$R/p:TxInfAndSts[1]/p:StsRsnInf')).toEqual([]);
    // AC03 is not in 02's closed TransactionRejectReason2Code list: it goes to Prtry there.
    const codeElement = version === 2 ? 'p:Prtry' : 'p:Cd';
    expect(out.one(`$R/p:TxInfAndSts[2]/p:StsRsnInf/${rsn}/${codeElement}`)).toBe('AC03');
    expect(out.all(`$R/p:TxInfAndSts[2]/p:StsRsnInf/${info}`)).toEqual([IBAN_PATH]);
    expect(out.all('$R/p:TxInfAndSts/p:OrgnlUETR')).toEqual(version >= 10 ? [UETR_1, UETR_2] : []);
  });

  it('escapes & < > \' " in ids and text, and they read back unchanged', () => {
    const nasty = `A&B<C>'D"E`;
    const text = `Creditor "O'Brien & Sons" <closed>`;
    const report: StatusReport = {
      ...header,
      messageId: nasty,
      original: { messageId: `${nasty}-orig`, messageNameId: 'pacs.008.001.08' },
      groupStatus: 'PART',
      groupReasons: [],
      transactions: [
        { statusId: `${nasty}-s1`, originalEndToEndId: `${nasty}-1`, status: 'ACSP', reasons: [] },
        { originalInstructionId: `${nasty}-i2`, originalTransactionId: `${nasty}-t2`, status: 'RJCT', reasons: [{ code: 'NARR', additionalInfo: [text] }] },
      ],
    };
    const xml = buildPacs002(report, version);
    expect(xml).toContain('<MsgId>A&amp;B&lt;C&gt;&apos;D&quot;E</MsgId>');
    const out = parse(xml, version);
    expect(out.errors).toEqual([]);
    expect(out.one('$R/p:GrpHdr/p:MsgId')).toBe(nasty);
    expect(out.one('$R/p:OrgnlGrpInfAndSts/p:OrgnlMsgId')).toBe(`${nasty}-orig`);
    expect(out.one('$R/p:TxInfAndSts[1]/p:StsId')).toBe(`${nasty}-s1`);
    expect(out.one('$R/p:TxInfAndSts[1]/p:OrgnlEndToEndId')).toBe(`${nasty}-1`);
    expect(out.one('$R/p:TxInfAndSts[2]/p:OrgnlInstrId')).toBe(`${nasty}-i2`);
    expect(out.one('$R/p:TxInfAndSts[2]/p:OrgnlTxId')).toBe(`${nasty}-t2`);
    expect(out.one(`$R/p:TxInfAndSts[2]/p:StsRsnInf/${info}`)).toBe(text);
  });

  it('writes a transaction-only report (no GrpSts) that is schema-valid', () => {
    const report: StatusReport = {
      ...header,
      groupReasons: [],
      transactions: [{ originalEndToEndId: 'E2E-1', status: 'PDNG', reasons: [{ code: 'NARR', additionalInfo: ['awaiting funds'] }] }],
    };
    const out = parse(buildPacs002(report, version), version);
    expect(out.errors).toEqual([]);
    expect(out.all('$R/p:OrgnlGrpInfAndSts/p:GrpSts')).toEqual([]);
    expect(out.one('$R/p:TxInfAndSts/p:TxSts')).toBe('PDNG');
  });

  it('refuses statuses and identifiers the version cannot carry', () => {
    const accc: StatusReport = { ...accepted(), groupStatus: 'ACCC', transactions: accepted().transactions.map((t) => ({ ...t, status: 'ACCC' as const })) };
    const uetrOnly: StatusReport = { ...header, groupReasons: [], transactions: [{ originalUetr: UETR_1, status: 'ACSP', reasons: [] }] };
    const bic2014: StatusReport = { ...accepted(), instructedAgentBic: '1234DEFF' };
    const received: StatusReport = { ...header, groupReasons: [], transactions: [{ originalEndToEndId: 'E2E-1', status: 'RCVD', reasons: [] }] };
    if (version <= 7) {
      expect(() => buildPacs002(accc, version)).toThrow(/groupStatus ACCC does not exist in pacs\.002\.001\.0\d/);
      expect(() => buildPacs002(received, version)).toThrow(/transactions\[0\]\.status RCVD does not exist/);
    } else {
      expect(parse(buildPacs002(accc, version), version).errors).toEqual([]);
      expect(parse(buildPacs002(received, version), version).errors).toEqual([]);
    }
    if (version < 10) {
      expect(() => buildPacs002(uetrOnly, version)).toThrow(TypeError);
      expect(() => buildPacs002(bic2014, version)).toThrow(/instructedAgentBic/);
    } else {
      const out = parse(buildPacs002(uetrOnly, version), version);
      expect(out.errors).toEqual([]);
      expect(out.one('$R/p:TxInfAndSts/p:OrgnlUETR')).toBe(UETR_1);
      expect(parse(buildPacs002(bic2014, version), version).errors).toEqual([]);
    }
  });
});

describe('buildPacs002 value checks', () => {
  const base = partial();
  const withTx = (i: number, patch: Partial<TransactionStatusEntry>): StatusReport => ({
    ...base,
    transactions: base.transactions.map((t, j) => (j === i ? { ...t, ...patch } : t)),
  });

  it.each<[string, StatusReport, RegExp]>([
    ['reason code longer than 4', withTx(1, { reasons: [{ code: 'AC033', additionalInfo: [] }] }), /reasons\[0\]\.code must be 1–4 characters/],
    ['empty reason code', withTx(1, { reasons: [{ code: '', additionalInfo: [] }] }), /reasons\[0\]\.code/],
    ['id longer than 35', withTx(0, { originalEndToEndId: 'x'.repeat(36) }), /transactions\[0\]\.originalEndToEndId must be 1–35/],
    ['empty message id', { ...base, messageId: '' }, /messageId must be 1–35/],
    ['control character in id', withTx(0, { originalEndToEndId: 'E2E\u0001' }), /XML 1\.0 cannot carry/],
    ['carriage return in id', withTx(0, { originalEndToEndId: 'E2E\r1' }), /carriage return/],
    ['empty additional info', withTx(1, { reasons: [{ code: 'AC03', additionalInfo: [''] }] }), /additionalInfo\[0\]/],
    ['bad creation date-time', { ...base, creationDateTime: '2026-11-21 10:15' }, /creationDateTime must be an ISO date-time/],
    ['impossible date', { ...base, creationDateTime: '2026-02-30T10:15:00Z' }, /creationDateTime/],
    ['bad UETR', withTx(0, { originalUetr: 'EB6305C9-1F7F-49DE-AED0-16487C27B42D' }), /originalUetr must be a lower-case UUIDv4/],
    ['bad BIC', { ...base, instructingAgentBic: 'GATE DE FF' }, /instructingAgentBic/],
    ['bad currency', withTx(0, { originalSettlementAmount: { currency: 'eur', text: '1.00' } }), /currency/],
    ['too many decimals', withTx(0, { originalSettlementAmount: { currency: 'EUR', text: '1.000001' } }), /originalSettlementAmount\.text/],
    ['negative amount', withTx(0, { originalSettlementAmount: { currency: 'EUR', text: '-1' } }), /originalSettlementAmount\.text/],
    ['bad settlement date', withTx(0, { originalSettlementDate: '21.11.2026' }), /originalSettlementDate/],
  ])('throws TypeError for %s', (_name, report, message) => {
    for (const version of [2, 9, 16] as const) {
      expect(() => buildPacs002(report, version)).toThrow(TypeError);
      expect(() => buildPacs002(report, version)).toThrow(message);
    }
  });

  it('throws TypeError for an unsupported version', () => {
    expect(() => buildPacs002(base, 17 as Pacs002Version)).toThrow(TypeError);
    expect(() => buildPacs002(base, 1 as Pacs002Version)).toThrow(/unsupported pacs\.002 version/);
  });

  it('throws TypeError listing every consistency error', () => {
    const broken: StatusReport = {
      ...base,
      groupStatus: 'ACSC',
      transactions: [{ originalEndToEndId: 'E2E-1', status: 'RJCT', reasons: [] }],
    };
    expect(() => buildPacs002(broken, 10)).toThrow(TypeError);
    expect(() => buildPacs002(broken, 10)).toThrow(/GroupStatusAcceptedRule.*; transactions\[0\] is RJCT but carries no reason code/);
  });

  it('normalises CR LF in free text to LF, which is what the partner would parse anyway', () => {
    const xml = buildPacs002(withTx(1, { reasons: [{ code: 'AC03', additionalInfo: ['line one\r\nline two\rthree'] }] }), 16);
    const out = parse(xml, 16);
    expect(out.errors).toEqual([]);
    expect(out.one('$R/p:TxInfAndSts[2]/p:StsRsnInf/p:AddtlInf')).toBe('line one\nline two\nthree');
  });

  it('accepts boundary values: 35-character ids, 18-digit amounts, astral characters', () => {
    const id = '𝄞'.repeat(35);
    const report = withTx(0, { originalEndToEndId: id, originalSettlementAmount: { currency: 'JPY', text: '1234567890123.45678' } });
    for (const version of [2, 10, 16] as const) {
      const out = parse(buildPacs002(report, version), version);
      expect(out.errors).toEqual([]);
      expect(out.one('$R/p:TxInfAndSts[1]/p:OrgnlEndToEndId')).toBe(id);
      expect(out.one('$R/p:TxInfAndSts[1]/p:OrgnlTxRef/p:IntrBkSttlmAmt')).toBe('1234567890123.45678');
    }
  });

  it('keeps several additionalInfo entries apart and in order', () => {
    const report = withTx(1, { reasons: [{ code: 'AC03', additionalInfo: ['first', 'x'.repeat(150), 'last'] }] });
    const out = parse(buildPacs002(report, 12), 12);
    expect(out.errors).toEqual([]);
    expect(out.all('$R/p:TxInfAndSts[2]/p:StsRsnInf/p:AddtlInf')).toEqual(['first', 'x'.repeat(105), 'x'.repeat(45), 'last']);
  });
});
