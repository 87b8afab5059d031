import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pacs002Layout } from '../../src/iso20022/pacs002/layout.ts';
import { PACS002_VERSIONS, PAIRED_PACS008_VERSIONS, isPacs002Version, pacs002VersionFor } from '../../src/iso20022/pacs002/versions.ts';

const XSD_DIR = path.join(import.meta.dirname, '../../xsd');
const nn = (v: number): string => String(v).padStart(2, '0');
const xsd = (name: string): string => readFileSync(path.join(XSD_DIR, `${name}.xsd`), 'utf8');

/** "2018 Feb 07" from the generator comment on line 2 of an official XSD. */
function generatedOn(name: string): string {
  const line = xsd(name).split('\n')[1] ?? '';
  const m = /on (\d{4} [A-Z][a-z]{2} \d{2}) /.exec(line);
  if (m?.[1] === undefined) throw new Error(`no generator date in ${name}: ${line}`);
  return m[1];
}

describe('pacs002VersionFor', () => {
  it('pairs each pacs.008 with the pacs.002 of the same release', () => {
    expect(PAIRED_PACS008_VERSIONS.map((v) => [v, pacs002VersionFor(v)])).toEqual([
      [1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 7], [7, 9], [8, 10], [9, 11], [10, 12], [11, 13], [12, 14], [13, 15], [14, 16],
    ]);
  });

  it('agrees with the generation dates of the official XSDs', () => {
    for (const v008 of PAIRED_PACS008_VERSIONS) {
      const v002 = pacs002VersionFor(v008);
      expect(generatedOn(`pacs.002.001.${nn(v002)}`), `pacs.008.001.${nn(v008)} ↔ pacs.002.001.${nn(v002)}`).toBe(
        generatedOn(`pacs.008.001.${nn(v008)}`),
      );
    }
    // pacs.002.001.08 was a pacs.002-only release: no pacs.008 shares its date.
    const dates008 = PAIRED_PACS008_VERSIONS.map((v) => generatedOn(`pacs.008.001.${nn(v)}`));
    expect(dates008).not.toContain(generatedOn('pacs.002.001.08'));
  });

  it('throws TypeError for versions it has no pairing for', () => {
    for (const bad of [0, 15, 1.5, Number.NaN]) expect(() => pacs002VersionFor(bad)).toThrow(TypeError);
  });

  it('knows exactly the pacs.002 versions shipped in /xsd', () => {
    expect(PACS002_VERSIONS).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    expect(isPacs002Version(10)).toBe(true);
    expect(isPacs002Version(17)).toBe(false);
    expect(isPacs002Version('10')).toBe(false);
  });
});

describe('pacs002Layout agrees with each XSD', () => {
  it.each(PACS002_VERSIONS.map((v) => [v]))('pacs.002.001.%i', (version) => {
    const layout = pacs002Layout(version);
    const schema = xsd(`pacs.002.001.${nn(version)}`);
    expect(schema).toContain(`targetNamespace="${layout.namespace}"`);
    expect(schema).toMatch(new RegExp(`<xs:element name="${layout.rootElement.replaceAll('.', '\\.')}" type=`));
    expect(schema).toContain(`name="${layout.bicElement}"`);
    expect(schema.includes('name="OrgnlUETR"')).toBe(layout.hasOriginalUetr);
    expect(schema).toContain(`name="${layout.reasonElement}"`);
    expect(schema).toMatch(new RegExp(`name="${layout.additionalInfoElement}" type="Max105Text"`));
    // The AddtlInf of StsRsnInf is Max105Text, repeatable without bound in every version,
    // so splitting never has to truncate.
    const reasonType = /name="StsRsnInf" type="([A-Za-z0-9]+)"/.exec(schema)?.[1] ?? '';
    const reasonBody = new RegExp(`<xs:complexType name="${reasonType}">([\\s\\S]*?)</xs:complexType>`).exec(schema)?.[1] ?? '';
    const infoDecl = new RegExp(`<xs:element[^>]*name="${layout.additionalInfoElement}"[^>]*>`).exec(reasonBody)?.[0] ?? '';
    expect(infoDecl).toContain('type="Max105Text"');
    expect(infoDecl).toContain('maxOccurs="unbounded"');
    expect(layout.additionalInfoMaxOccurs).toBe(Number.POSITIVE_INFINITY);
    expect(schema).toMatch(/name="Max105Text">\s*<xs:restriction base="xs:string">\s*<xs:minLength value="1"\/>\s*<xs:maxLength value="105"\/>/);
    // Status code lists: closed enumerations up to 07, external (1–4 chars) from 08.
    const grpStsType = /name="GrpSts" type="([A-Za-z0-9]+)"/.exec(schema)?.[1];
    expect(grpStsType).toBeDefined();
    const enumOf = (type: string): string[] => {
      const body = new RegExp(`<xs:simpleType name="${type}">([\\s\\S]*?)</xs:simpleType>`).exec(schema)?.[1] ?? '';
      return [...body.matchAll(/enumeration value="([A-Z0-9]+)"/g)].map((m) => m[1] ?? '');
    };
    const txStsType = /name="TxSts" type="([A-Za-z0-9]+)"/.exec(schema)?.[1] ?? '';
    if (layout.groupStatuses === null) {
      expect(enumOf(grpStsType ?? '')).toEqual([]);
      expect(enumOf(txStsType)).toEqual([]);
    } else {
      expect(enumOf(grpStsType ?? '')).toEqual(expect.arrayContaining([...layout.groupStatuses]));
      expect(enumOf(txStsType)).toEqual(expect.arrayContaining([...(layout.transactionStatuses ?? [])]));
      expect(enumOf(txStsType)).not.toContain('ACCC');
      expect(enumOf(txStsType)).not.toContain('RCVD');
    }
    if (layout.closedReasonCodes !== null) {
      expect(new Set(enumOf('TransactionRejectReason2Code'))).toEqual(layout.closedReasonCodes);
    }
  });
});
