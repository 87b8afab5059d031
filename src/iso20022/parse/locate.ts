/**
 * Finds the business message in whatever wraps it: a bare `Document`, or `AppHdr` + `Document` inside a
 * SWIFT `Envelope`, a `RequestPayload`, a `BusMsg`, a `DataPDU/Body`, or any other wrapper.
 *
 * The search goes breadth-first through wrapper elements and never descends into a Document or an AppHdr,
 * so a Document nested inside `SplmtryData/Envlp` (or anywhere inside the payment) is never taken for the
 * payment itself. Two candidates at the shallowest level are ambiguous and refused rather than guessed.
 */
import type { XmlElement } from 'libxml2-wasm';
import { reason, type Reason } from '../reasons.ts';
import { elementChildren } from './dom.ts';

export interface LocatedMessage {
  readonly document: XmlElement;
  readonly appHdr?: XmlElement;
}

const DOCUMENT = 'Document';
const APP_HDR = 'AppHdr';

export function locateMessage(root: XmlElement, wrapperDepthMax: number): LocatedMessage | Reason {
  if (root.name === DOCUMENT) return { document: root };
  if (root.name === APP_HDR) {
    return reason('DOCUMENT_MISSING', `/${APP_HDR}`, 'The message is an AppHdr alone; the Document must accompany it inside a wrapper element.');
  }
  let level: XmlElement[] = [root];
  let appHdr: XmlElement | undefined;
  for (let depth = 0; depth < wrapperDepthMax && level.length > 0; depth++) {
    const documents: XmlElement[] = [];
    const headers: XmlElement[] = [];
    const wrappers: XmlElement[] = [];
    for (const element of level) {
      for (const child of elementChildren(element)) {
        const name = child.name;
        if (name === DOCUMENT) documents.push(child);
        else if (name === APP_HDR) headers.push(child);
        else wrappers.push(child);
      }
    }
    if (headers.length > 1 || (appHdr !== undefined && headers.length > 0)) {
      return reason('DOCUMENT_AMBIGUOUS', `/${root.name}`, 'The wrapper holds more than one AppHdr.');
    }
    appHdr ??= headers[0];
    if (documents.length > 1) {
      return reason('DOCUMENT_AMBIGUOUS', `/${root.name}`, `The wrapper holds ${documents.length} Document elements at the same level.`);
    }
    const document = documents[0];
    if (document !== undefined) return appHdr === undefined ? { document } : { document, appHdr };
    level = wrappers;
  }
  return reason('DOCUMENT_MISSING', `/${root.name}`, `No Document element was found inside <${root.name}> (searched ${wrapperDepthMax} levels).`);
}
