/**
 * A second opinion on every schema verdict: Java Xerces (through xsd-schema-validator, a JVM per call) must
 * agree with libxml2 (our hot path) on whether each fixture's Document and AppHdr are valid against their
 * official XSDs. Two independent validators agreeing on every fixture is what makes the schema verdict trusted.
 */
import { XmlDocument, XmlElement } from 'libxml2-wasm';
import { describe, expect, it } from 'vitest';
import { locateMessage } from '../../src/iso20022/parse/locate.ts';
import { head001Version, pacs008Version } from '../../src/iso20022/parse/versions.ts';
import { guardXmlBytes } from '../../src/iso20022/parse/xml-guard.ts';
import { validateAgainstSchema } from '../../src/iso20022/validate/xsd.ts';
import { fixtureFiles, readFixture, schemas, XSD } from '../support/fixtures.ts';
import { xercesValid, xercesValidateXml } from '../support/xerces.ts';

interface Subject {
  readonly label: string;
  /** The element as a standalone document: C14N carries the namespace declarations in scope. */
  readonly xml: string;
  readonly messageId: string;
  readonly libxml2Valid: boolean;
}

/** The schema subjects of a fixture: its Document and AppHdr, when it gets that far. */
function subjectsOf(file: string): Subject[] {
  const bytes = readFixture(file);
  const guarded = guardXmlBytes(bytes, Number.MAX_SAFE_INTEGER);
  if ('id' in guarded) return []; // refused before parsing: no schema verdict to compare
  let doc: XmlDocument;
  try {
    doc = XmlDocument.fromBuffer(bytes.subarray(guarded.start));
  } catch {
    return []; // not well-formed: no schema verdict
  }
  try {
    const located = locateMessage(doc.root, 8);
    if ('id' in located) return [];
    const out: Subject[] = [];
    const candidates: [XmlElement | undefined, string | undefined][] = [
      [located.appHdr, located.appHdr === undefined || head001Version(located.appHdr.namespaceUri) === undefined ? undefined : `head.001.001.0${head001Version(located.appHdr.namespaceUri)}`],
      [located.document, pacs008Version(located.document.namespaceUri) === undefined ? undefined : located.document.namespaceUri.slice(-15)],
    ];
    for (const [element, messageId] of candidates) {
      if (element === undefined || messageId === undefined) continue;
      const reasons = validateAgainstSchema(schemas.validatorFor(messageId), element, doc.root, 'SCHEMA_VIOLATION', 50);
      out.push({ label: `${file} ${element.name}`, xml: element.canonicalizeToString(), messageId, libxml2Valid: reasons.length === 0 });
    }
    return out;
  } finally {
    doc.dispose();
  }
}

const subjects = [...fixtureFiles('accept'), ...fixtureFiles('reject')].flatMap(subjectsOf);

describe.skipIf(xercesValidateXml === undefined)('libxml2 and Xerces agree on every schema verdict', () => {
  it('has both valid and invalid subjects to compare', () => {
    expect(subjects.filter((s) => s.libxml2Valid).length).toBeGreaterThan(40);
    expect(subjects.filter((s) => !s.libxml2Valid).length).toBeGreaterThanOrEqual(5);
  });

  it('agrees on all of them', async () => {
    // Two JVMs at a time: the machine has two cores.
    const verdicts: { label: string; libxml2: boolean; xerces: boolean }[] = [];
    const queue = [...subjects];
    await Promise.all([0, 1].map(async () => {
      for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
        verdicts.push({ label: s.label, libxml2: s.libxml2Valid, xerces: await xercesValid(s.xml, `${XSD}${s.messageId}.xsd`) });
      }
    }));
    const disagreements = verdicts.filter((v) => v.libxml2 !== v.xerces);
    expect(disagreements).toEqual([]);
    expect(verdicts).toHaveLength(subjects.length);
  }, 300_000);
});
