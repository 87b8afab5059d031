/**
 * The pacs.002 answering each fixture validates against the official XSD of its version — accepted, rejected
 * and partially rejected messages alike — and says what the verdict said.
 */
import { XmlDocument } from 'libxml2-wasm';
import { describe, expect, it } from 'vitest';
import { pacs002For } from '../../src/cli/validate.ts';
import { fixtureFiles, FIXTURE_CLOCK, check, readFixture, schemas, XSD } from '../support/fixtures.ts';
import { xercesValid, xercesValidateXml } from '../support/xerces.ts';

const NS = 'urn:iso:std:iso:20022:tech:xsd:';

function answer(file: string) {
  const result = check(readFixture(file));
  if (result.kind !== 'checked') return undefined;
  const xml = pacs002For(result, FIXTURE_CLOCK);
  const doc = XmlDocument.fromString(xml);
  const namespace = doc.root.namespaceUri;
  const messageId = namespace.slice(NS.length);
  return { result, xml, doc, messageId, ns: { p: namespace } };
}

const files = [...fixtureFiles('accept'), ...fixtureFiles('reject')];

describe('pacs.002 for every identifiable fixture', () => {
  it.each(files)('%s', (file) => {
    const a = answer(file);
    if (a === undefined) return; // unreadable input is answered with an HTTP error body, not a pacs.002
    try {
      expect(() => schemas.validatorFor(a.messageId).validate(a.doc)).not.toThrow();
      const groupStatus = a.doc.eval('string(//p:OrgnlGrpInfAndSts/p:GrpSts)', a.ns);
      const expectedGroup = a.result.accepted ? 'ACTC' : a.result.messageReasons.length === 0 && a.result.transactions.some((t) => t.accepted) ? 'PART' : 'RJCT';
      expect(groupStatus).toBe(expectedGroup);
      const originalId = a.result.identity.messageId ?? '';
      expect(a.doc.eval('string(//p:OrgnlGrpInfAndSts/p:OrgnlMsgId)', a.ns)).toBe(originalId.length <= 35 ? originalId : 'NOTPROVIDED');
      expect(a.doc.eval('string(//p:OrgnlGrpInfAndSts/p:OrgnlMsgNmId)', a.ns)).toBe(a.result.messageType);
      const codes = (a.doc.find('//p:StsRsnInf/p:Rsn/p:Cd', a.ns) as { content: string }[]).map((n) => n.content);
      expect(codes.sort()).toEqual(a.result.reasons.map((r) => r.code).sort());
    } finally {
      a.doc.dispose();
    }
  });

  it.skipIf(xercesValidateXml === undefined)('Xerces agrees that the accepted, rejected and partial answers are valid', async () => {
    for (const file of ['accept/shapes/bah-swift-envelope.xml', 'reject/AM10--ctrl-sum-mismatch.xml', 'reject/AC03--partial-second-transaction-creditor-iban.xml']) {
      const a = answer(file);
      if (a === undefined) throw new Error(`${file} should be identifiable`);
      a.doc.dispose();
      expect(await xercesValid(a.xml, `${XSD}${a.messageId}.xsd`)).toBe(true);
    }
  }, 60_000);
});
