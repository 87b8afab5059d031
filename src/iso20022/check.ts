/**
 * The message core in one call: bytes in, a verdict out. Read top to bottom it is the order of the checks:
 *
 *   guard the bytes → parse (libxml2) → locate AppHdr/Document → pick the schemas by namespace
 *   → validate AppHdr and Document against their official XSDs → read the typed model → business rules
 *
 * One libxml2 parse serves both validation and reading. Every failure is a {@link Reason} with an ISO code
 * and an element path; nothing here throws for bad input.
 */
import { XmlDocument, XmlParseError, ParseOption, type XmlElement } from 'libxml2-wasm';
import { toMinorUnits } from './decimal.ts';
import { DEFAULT_MESSAGE_LIMITS, XML_ELEMENT_DEPTH_MAX, type MessageLimits } from './limits.ts';
import type { CreditTransfer, Money, Pacs008 } from './model.ts';
import { locateMessage } from './parse/locate.ts';
import { identifyMessage, readBusinessAppHeader, readPacs008, type MessageIdentity } from './parse/read-pacs008.ts';
import { head001Version, pacs008MessageType, pacs008Version } from './parse/versions.ts';
import { guardXmlBytes } from './parse/xml-guard.ts';
import { reason, type Reason } from './reasons.ts';
import { RULES } from './rules/index.ts';
import { settlementCurrencyExponent } from './rules/currencies.ts';
import type { SchemaSet } from './validate/schemas.ts';
import { validateAgainstSchema } from './validate/xsd.ts';

export interface CheckOptions {
  readonly schemas: SchemaSet;
  /** The clock, for date plausibility rules. */
  readonly now: Date;
  readonly limits?: MessageLimits;
}

export interface TransactionOutcome {
  /** 1-based CdtTrfTxInf position. */
  readonly index: number;
  readonly accepted: boolean;
  readonly reasons: readonly Reason[];
  readonly ids: MessageIdentity['transactions'][number];
  /** The transfer as read, when the message passed its schema. */
  readonly transfer?: CreditTransfer;
  /** Settlement amount in minor units, for accepted transactions. */
  readonly settlement?: Money;
}

/** The verdict on a message that could be read far enough to be identified. */
export interface CheckedMessage {
  readonly kind: 'checked';
  /** True when the message and every transaction passed. */
  readonly accepted: boolean;
  /** e.g. `pacs.008.001.08`. */
  readonly messageType: string;
  readonly identity: MessageIdentity;
  /** The typed message, when it passed its schema (rules ran on it). */
  readonly message?: Pacs008;
  /** Reasons that reject the whole message. */
  readonly messageReasons: readonly Reason[];
  readonly transactions: readonly TransactionOutcome[];
  /** Every reason, message-level first, in report order. */
  readonly reasons: readonly Reason[];
}

/** The verdict on bytes that could not be read as a pacs.008 at all (no message id to answer to). */
export interface UnreadableMessage {
  readonly kind: 'unreadable';
  readonly accepted: false;
  readonly messageType?: string;
  readonly reasons: readonly Reason[];
}

export type CheckResult = CheckedMessage | UnreadableMessage;

// NOBLANKS drops whitespace-only text between elements (ISO 20022 has no mixed content), halving the nodes
// the reader walks; whitespace inside a leaf element is kept by libxml2.
const PARSE_OPTIONS = ParseOption.XML_PARSE_NONET | ParseOption.XML_PARSE_NOCDATA | ParseOption.XML_PARSE_NOBLANKS;

function unreadable(reasons: Reason[], messageType?: string): UnreadableMessage {
  return messageType === undefined ? { kind: 'unreadable', accepted: false, reasons } : { kind: 'unreadable', accepted: false, reasons, messageType };
}

function parseError(error: XmlParseError): Reason {
  const detail = error.details[0];
  const text = (detail?.message ?? error.message).trim();
  const where = detail === undefined ? '' : ` (line ${detail.line}, column ${detail.col})`;
  if (/Excessive depth/i.test(text)) {
    return reason('XML_TOO_DEEP', '/', `Elements are nested deeper than ${XML_ELEMENT_DEPTH_MAX} levels${where}.`);
  }
  return reason('XML_NOT_WELL_FORMED', '/', `${text}${where}`);
}

/** Splits reasons into message-level and per-transaction outcomes. */
function verdict(
  messageType: string,
  identity: MessageIdentity,
  reasons: Reason[],
  message: Pacs008 | undefined,
): CheckedMessage {
  const messageReasons = reasons.filter((r) => r.transaction === undefined);
  const transactions = identity.transactions.map((ids, i): TransactionOutcome => {
    const index = i + 1;
    const own = reasons.filter((r) => r.transaction === index);
    const transfer = message?.transactions[i];
    const accepted = messageReasons.length === 0 && own.length === 0 && transfer !== undefined;
    const base = { index, ids, reasons: own, accepted, ...(transfer === undefined ? {} : { transfer }) };
    if (!accepted || transfer === undefined) return base;
    const amount = transfer.settlementAmount;
    const exponent = settlementCurrencyExponent(amount.currency);
    const minor = exponent === undefined ? undefined : toMinorUnits(amount.value, exponent);
    // The amount rules passed, so the currency and decimals are valid: anything else is a bug.
    if (minor === undefined) throw new Error(`accepted transaction ${index} has no minor-unit amount`);
    return { ...base, settlement: { minor, currency: amount.currency } };
  });
  const ordered = [...messageReasons, ...reasons.filter((r) => r.transaction !== undefined)];
  return {
    kind: 'checked',
    accepted: ordered.length === 0 && transactions.every((t) => t.accepted),
    messageType,
    identity,
    messageReasons,
    transactions,
    reasons: ordered,
    ...(message === undefined ? {} : { message }),
  };
}

function checkDocument(root: XmlElement, options: CheckOptions, limits: MessageLimits): CheckResult {
  const located = locateMessage(root, limits.wrapperDepthMax);
  if ('id' in located) return unreadable([located]);
  const { document, appHdr } = located;

  const version = pacs008Version(document.namespaceUri);
  if (version === undefined) {
    const namespace = document.namespaceUri === '' ? 'no namespace' : `namespace ${document.namespaceUri}`;
    return unreadable([reason('MESSAGE_TYPE_UNSUPPORTED', '/Document', `The Document has ${namespace}; expected urn:iso:std:iso:20022:tech:xsd:pacs.008.001.01 to .14.`)]);
  }
  const messageType = pacs008MessageType(version);
  const headerVersion = appHdr === undefined ? undefined : head001Version(appHdr.namespaceUri);
  if (appHdr !== undefined && headerVersion === undefined) {
    return unreadable([reason('HEADER_TYPE_UNSUPPORTED', '/AppHdr', `The AppHdr has namespace "${appHdr.namespaceUri}"; expected urn:iso:std:iso:20022:tech:xsd:head.001.001.01 to .04.`)], messageType);
  }

  const max = limits.reasonsPerMessageMax;
  const schemaReasons = [
    ...(appHdr === undefined || headerVersion === undefined
      ? []
      : validateAgainstSchema(options.schemas.validatorFor(`head.001.001.0${headerVersion}`), appHdr, root, 'HEADER_SCHEMA_VIOLATION', max)),
    ...validateAgainstSchema(options.schemas.validatorFor(messageType), document, root, 'SCHEMA_VIOLATION', max),
  ];
  if (schemaReasons.length > 0) {
    // Rules would run on a model the schema has not vouched for; report the schema violations alone.
    return verdict(messageType, identifyMessage(document, version), schemaReasons.slice(0, max), undefined);
  }

  const header = appHdr === undefined || headerVersion === undefined ? undefined : readBusinessAppHeader(appHdr, headerVersion);
  const message = readPacs008(document, version, header);
  const context = { now: options.now, limits };
  const reasons = RULES.flatMap((rule) => rule(message, context)).slice(0, max);
  return verdict(messageType, identityOf(message), reasons, message);
}

function identityOf(message: Pacs008): MessageIdentity {
  return {
    messageId: message.group.messageId,
    creationDateTime: message.group.creationDateTime,
    transactions: message.transactions.map((tx) => ({
      endToEndId: tx.endToEndId,
      ...(tx.instructionId === undefined ? {} : { instructionId: tx.instructionId }),
      ...(tx.transactionId === undefined ? {} : { transactionId: tx.transactionId }),
      ...(tx.uetr === undefined ? {} : { uetr: tx.uetr }),
    })),
  };
}

/** Checks one pacs.008 message given as raw bytes. Never throws for bad input. */
export function checkPacs008(bytes: Uint8Array, options: CheckOptions): CheckResult {
  const limits = options.limits ?? DEFAULT_MESSAGE_LIMITS;
  const guarded = guardXmlBytes(bytes, limits.messageBytesMax);
  if ('id' in guarded) return unreadable([guarded]);

  let xml: XmlDocument;
  try {
    xml = XmlDocument.fromBuffer(guarded.start === 0 ? bytes : bytes.subarray(guarded.start), { option: PARSE_OPTIONS });
  } catch (error) {
    if (error instanceof XmlParseError) return unreadable([parseError(error)]);
    throw error;
  }
  try {
    return checkDocument(xml.root, options, limits);
  } finally {
    xml.dispose();
  }
}
