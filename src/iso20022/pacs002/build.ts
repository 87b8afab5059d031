/**
 * Writes a {@link StatusReport} as pacs.002.001.NN XML.
 *
 * Uses fast-xml-parser's XMLBuilder, as the design asks: it escapes & < > ' " in text
 * and attribute values, and it writes object keys in insertion order, so element order
 * is exactly the order the `*Node` functions below insert them in — which follows the
 * XSD sequences (the same in every version for the elements we write; per-version
 * names and code lists come from `layout.ts`). Same input, same object, same text.
 */
import { XMLBuilder } from 'fast-xml-parser';
import { statusConsistencyErrors } from './consistency.ts';
import { pacs002Layout } from './layout.ts';
import type { Pacs002Layout } from './layout.ts';
import type { StatusReason, StatusReport, TransactionStatusEntry } from './model.ts';
import { layOutFreeText } from './free-text.ts';
import { assertAmount, assertIsoDate, assertIsoDateTime, assertPattern, assertText } from './simple-types.ts';
import { isPacs002Version } from './versions.ts';
import type { Pacs002Version } from './versions.ts';

/** An element's content as XMLBuilder takes it: text, child elements, or repeats. */
type XmlContent = string | XmlElement | readonly XmlElement[] | readonly string[];
interface XmlElement {
  [name: string]: XmlContent;
}

const ATTR = '@';
const TEXT = '#text';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: ATTR,
  textNodeName: TEXT,
  processEntities: true,
  // Otherwise an attribute whose value is "true" would be written without a value.
  suppressBooleanAttributes: false,
  suppressEmptyNode: false,
  format: true,
  indentBy: '  ',
});

/** Max35Text: all the identifiers we write. */
const MAX35 = 35;
/** ExternalStatusReason1Code (and 02's closed list): 1–4 characters. Also fits the Max35Text Prtry fallback. */
const REASON_CODE_MAX = 4;
const UUID_V4 = /^[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}$/;
const CURRENCY = /^[A-Z]{3}$/;

/** Adds `name` to `node` only when `value` is present, keeping insertion order meaningful. */
function put(node: XmlElement, name: string, value: XmlContent | undefined): void {
  if (value !== undefined) node[name] = value;
}

function text35(field: string, value: string): string {
  assertText(field, value, 1, MAX35);
  return value;
}

function optionalText35(field: string, value: string | undefined): string | undefined {
  return value === undefined ? undefined : text35(field, value);
}

function dateTime(field: string, value: string): string {
  assertIsoDateTime(field, value);
  return value;
}

function optionalDateTime(field: string, value: string | undefined): string | undefined {
  return value === undefined ? undefined : dateTime(field, value);
}

function agentNode(field: string, bic: string | undefined, layout: Pacs002Layout): XmlElement | undefined {
  if (bic === undefined) return undefined;
  const what = layout.version >= 10 ? 'an ISO 9362:2014 BIC (BICFIDec2014Identifier)' : 'a BIC of 8 or 11 characters (ISO 9362)';
  assertPattern(field, bic, layout.bicPattern, what);
  return { FinInstnId: { [layout.bicElement]: bic } };
}

/** Free text can carry CR, but an XML parser turns CR LF and CR into LF: do it here, visibly. */
function normaliseLineBreaks(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

function reasonNodes(field: string, reasons: readonly StatusReason[], layout: Pacs002Layout): XmlElement[] {
  return reasons.map((reason, i) => {
    const where = `${field}[${String(i)}]`;
    assertText(`${where}.code`, reason.code, 1, REASON_CODE_MAX);
    const info = reason.additionalInfo.map((entry, j) => {
      const normalised = typeof entry === 'string' ? normaliseLineBreaks(entry) : entry;
      // Length is the splitter's job; this checks type, non-emptiness and XML characters.
      assertText(`${where}.additionalInfo[${String(j)}]`, normalised, 1, Number.POSITIVE_INFINITY);
      return normalised;
    });
    const closed = layout.closedReasonCodes;
    const node: XmlElement = {
      [layout.reasonElement]: closed === null || closed.has(reason.code) ? { Cd: reason.code } : { Prtry: reason.code },
    };
    if (info.length > 0) {
      node[layout.additionalInfoElement] = layOutFreeText(info, layout.additionalInfoMaxLength, layout.additionalInfoMaxOccurs);
    }
    return node;
  });
}

function originalTransactionRefNode(field: string, tx: TransactionStatusEntry): XmlElement | undefined {
  const amount = tx.originalSettlementAmount;
  const date = tx.originalSettlementDate;
  if (amount === undefined && date === undefined) return undefined;
  const node: XmlElement = {};
  if (amount !== undefined) {
    assertPattern(`${field}.originalSettlementAmount.currency`, amount.currency, CURRENCY, 'an ISO 4217 code like EUR');
    assertAmount(`${field}.originalSettlementAmount.text`, amount.text);
    node['IntrBkSttlmAmt'] = { [`${ATTR}Ccy`]: amount.currency, [TEXT]: amount.text };
  }
  if (date !== undefined) {
    assertIsoDate(`${field}.originalSettlementDate`, date);
    node['IntrBkSttlmDt'] = date;
  }
  return node;
}

function transactionNode(i: number, tx: TransactionStatusEntry, layout: Pacs002Layout): XmlElement {
  const field = `transactions[${String(i)}]`;
  const allowed = layout.transactionStatuses;
  if (allowed !== null && !allowed.has(tx.status)) {
    throw new TypeError(
      `${field}.status ${tx.status} does not exist in ${layout.name} ` +
        `(TxSts allows ${[...allowed].join(', ')})`,
    );
  }
  if (tx.originalUetr !== undefined) {
    assertPattern(`${field}.originalUetr`, tx.originalUetr, UUID_V4, 'a lower-case UUIDv4');
  }
  const uetr = layout.hasOriginalUetr ? tx.originalUetr : undefined;
  if (!layout.hasOriginalUetr && tx.originalUetr !== undefined &&
    tx.originalInstructionId === undefined && tx.originalEndToEndId === undefined && tx.originalTransactionId === undefined) {
    throw new TypeError(
      `${field} is identified only by originalUetr, which ${layout.name} cannot carry (OrgnlUETR starts in .10)`,
    );
  }

  const node: XmlElement = {};
  put(node, 'StsId', optionalText35(`${field}.statusId`, tx.statusId));
  put(node, 'OrgnlInstrId', optionalText35(`${field}.originalInstructionId`, tx.originalInstructionId));
  put(node, 'OrgnlEndToEndId', optionalText35(`${field}.originalEndToEndId`, tx.originalEndToEndId));
  put(node, 'OrgnlTxId', optionalText35(`${field}.originalTransactionId`, tx.originalTransactionId));
  put(node, 'OrgnlUETR', uetr);
  node['TxSts'] = tx.status;
  const reasons = reasonNodes(`${field}.reasons`, tx.reasons, layout);
  if (reasons.length > 0) node['StsRsnInf'] = reasons;
  put(node, 'AccptncDtTm', optionalDateTime(`${field}.acceptanceDateTime`, tx.acceptanceDateTime));
  put(node, 'OrgnlTxRef', originalTransactionRefNode(field, tx));
  return node;
}

function groupInfoNode(report: StatusReport, layout: Pacs002Layout): XmlElement {
  const node: XmlElement = {};
  node['OrgnlMsgId'] = text35('original.messageId', report.original.messageId);
  node['OrgnlMsgNmId'] = text35('original.messageNameId', report.original.messageNameId);
  put(node, 'OrgnlCreDtTm', optionalDateTime('original.creationDateTime', report.original.creationDateTime));
  const group = report.groupStatus;
  if (group !== undefined) {
    const allowed = layout.groupStatuses;
    if (allowed !== null && !allowed.has(group)) {
      throw new TypeError(
        `groupStatus ${group} does not exist in ${layout.name} (GrpSts allows ${[...allowed].join(', ')})`,
      );
    }
    node['GrpSts'] = group;
  }
  const reasons = reasonNodes('groupReasons', report.groupReasons, layout);
  if (reasons.length > 0) node['StsRsnInf'] = reasons;
  return node;
}

function headerNode(report: StatusReport, layout: Pacs002Layout): XmlElement {
  const node: XmlElement = {};
  node['MsgId'] = text35('messageId', report.messageId);
  node['CreDtTm'] = dateTime('creationDateTime', report.creationDateTime);
  put(node, 'InstgAgt', agentNode('instructingAgentBic', report.instructingAgentBic, layout));
  put(node, 'InstdAgt', agentNode('instructedAgentBic', report.instructedAgentBic, layout));
  return node;
}

/**
 * The pacs.002.001.`version` document for `report`: XML declaration, then `Document` in
 * namespace `urn:iso:std:iso:20022:tech:xsd:pacs.002.001.NN`, valid against that XSD.
 *
 * Per-version adaptations (see `layout.ts`): OrgnlUETR is dropped before .10; in .02 a
 * reason code outside its closed list is written as StsRsn/Prtry. AddtlInf text longer
 * than 105 characters is split over several occurrences.
 *
 * @throws TypeError if the report breaks {@link statusConsistencyErrors} (all errors are
 *   listed), if `version` is not supported, or if a value cannot be written in this
 *   version (too long, wrong shape, status code the version lacks).
 */
export function buildPacs002(report: StatusReport, version: Pacs002Version): string {
  if (!isPacs002Version(version)) {
    throw new TypeError(`buildPacs002: unsupported pacs.002 version ${JSON.stringify(version)} (expected 2–16)`);
  }
  const errors = statusConsistencyErrors(report);
  if (errors.length > 0) {
    throw new TypeError(`buildPacs002: inconsistent status report: ${errors.join('; ')}`);
  }
  const layout = pacs002Layout(version);

  const body: XmlElement = {
    GrpHdr: headerNode(report, layout),
    OrgnlGrpInfAndSts: groupInfoNode(report, layout),
  };
  const transactions = report.transactions.map((tx, i) => transactionNode(i, tx, layout));
  if (transactions.length > 0) body['TxInfAndSts'] = transactions;

  return builder.build({
    '?xml': { [`${ATTR}version`]: '1.0', [`${ATTR}encoding`]: 'UTF-8' },
    Document: { [`${ATTR}xmlns`]: layout.namespace, [layout.rootElement]: body },
  });
}
