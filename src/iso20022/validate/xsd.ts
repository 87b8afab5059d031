/**
 * Validates a Document or AppHdr element against its compiled schema and turns libxml2's diagnostics into
 * reasons with named element paths (`/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]/ChrgBr`), not libxml2's
 * positional ones (`/*\/*[2]/*\/*[2]/*[4]`).
 */
import { XmlValidateError, type ErrorDetail, type XmlElement, type XsdValidator } from 'libxml2-wasm';
import { reason, type Reason } from '../reasons.ts';
import { pathOf, resolveLibxmlPath } from '../parse/dom.ts';

type SchemaReasonId = 'SCHEMA_VIOLATION' | 'HEADER_SCHEMA_VIOLATION';

/** `Element '{urn:…:pacs.008.001.08}ChrgBr': [facet 'enumeration'] …` → `Element 'ChrgBr': …` */
function readableMessage(detail: ErrorDetail): string {
  return detail.message.replace(/\{[^}]*\}/g, '').replace(/\s+/g, ' ').trim();
}

function detailPath(detail: ErrorDetail, documentRoot: XmlElement, root: XmlElement): string {
  if (detail.xpath === undefined) return `/${root.name}`;
  const node = resolveLibxmlPath(documentRoot, detail.xpath);
  return node === undefined ? `/${root.name}` : pathOf(node, root);
}

/**
 * Returns no reasons when `root` is valid. `documentRoot` is the XML document's root element (the wrapper,
 * when there is one), against which libxml2 writes its paths.
 */
export function validateAgainstSchema(
  validator: XsdValidator,
  root: XmlElement,
  documentRoot: XmlElement,
  id: SchemaReasonId,
  reasonsMax: number,
): Reason[] {
  try {
    validator.validate(root);
    return [];
  } catch (error) {
    if (!(error instanceof XmlValidateError)) throw error;
    const details = error.details.length > 0 ? error.details : [{ message: error.message, level: 2, line: 0, col: 0 }];
    return details.slice(0, reasonsMax).map((detail) => reason(id, detailPath(detail, documentRoot, root), readableMessage(detail)));
  }
}
