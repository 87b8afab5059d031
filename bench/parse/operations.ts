/**
 * What is measured for one message: each stage of checkPacs008 alone (on the output of the stage before it,
 * prepared once), the whole call, the two alternatives (fast-xml-parser, JSON + ajv), and JSON.parse alone as
 * an anchor for how fast the machine was during the run.
 *
 * Before any timing, every operation is run once and its result checked, so that the bench never measures a
 * path that fails early (a rejected message, a vacuous JSON schema, a parser that lost the transactions).
 */
import { XmlDocument, ParseOption } from 'libxml2-wasm';
import { checkPacs008, DEFAULT_MESSAGE_LIMITS, type SchemaSet } from '../../src/iso20022/index.ts';
import { locateMessage } from '../../src/iso20022/parse/locate.ts';
import { readBusinessAppHeader, readPacs008 } from '../../src/iso20022/parse/read-pacs008.ts';
import { head001Version, pacs008Version } from '../../src/iso20022/parse/versions.ts';
import { RULES } from '../../src/iso20022/rules/index.ts';
import { validateAgainstSchema } from '../../src/iso20022/validate/xsd.ts';
import type { Pacs008 } from '../../src/iso20022/model.ts';
import type { ValidateFunction } from 'ajv';
import type { XMLParser } from 'fast-xml-parser';
import type { BenchMessage } from './messages.ts';

/** The options check.ts parses with (not exported there; kept identical here). */
export const PARSE_OPTIONS = ParseOption.XML_PARSE_NONET | ParseOption.XML_PARSE_NOCDATA | ParseOption.XML_PARSE_NOBLANKS;

/** Stable names: the report and parse.json key on them. */
export const OP = {
  parse: 'parse',
  xsd: 'xsd',
  read: 'read',
  rules: 'rules',
  whole: 'whole',
  fxp: 'fxp',
  json: 'json',
  jsonParse: 'jsonParse',
} as const;
export type OperationName = (typeof OP)[keyof typeof OP];

export const OPERATION_LABELS: Record<OperationName, string> = {
  parse: 'libxml2 parse (fromBuffer + dispose)',
  xsd: 'XSD validation (AppHdr + Document)',
  read: 'read model (AppHdr + pacs.008)',
  rules: `business rules (${RULES.length} rules)`,
  whole: 'checkPacs008, whole',
  fxp: 'fast-xml-parser 5, parse only',
  json: 'JSON.parse + ajv validate',
  jsonParse: 'JSON.parse alone (machine-speed anchor)',
};

export interface Context {
  readonly schemas: SchemaSet;
  readonly now: Date;
  readonly xmlParser: XMLParser;
  readonly jsonValidator: ValidateFunction;
}

export interface StageOperation {
  readonly name: OperationName;
  readonly run: () => unknown;
}

/** A prepared message: the operations to time, and what must be released afterwards. */
export interface Prepared extends Disposable {
  readonly operations: StageOperation[];
}

function fail(message: BenchMessage, what: string): never {
  throw new Error(`bench sanity check failed for ${message.id}: ${what}`);
}

export function prepare(message: BenchMessage, context: Context): Prepared {
  const { schemas, now, xmlParser, jsonValidator } = context;
  const decoder = new TextDecoder();
  const limits = DEFAULT_MESSAGE_LIMITS;

  // The stages' inputs, prepared once: a parsed document, its AppHdr/Document, the read model.
  const document = XmlDocument.fromBuffer(message.xml, { option: PARSE_OPTIONS });
  const root = document.root;
  const located = locateMessage(root, limits.wrapperDepthMax);
  if ('id' in located) fail(message, `locate: ${located.message}`);
  const { document: body, appHdr } = located;
  if (appHdr === undefined) fail(message, 'no AppHdr');
  const version = pacs008Version(body.namespaceUri) ?? fail(message, 'not a pacs.008');
  const headerVersion = head001Version(appHdr.namespaceUri) ?? fail(message, 'not a head.001');
  const documentValidator = schemas.validatorFor(`pacs.008.001.${String(version).padStart(2, '0')}`);
  const headerValidator = schemas.validatorFor(`head.001.001.${String(headerVersion).padStart(2, '0')}`);

  const validate = (): number =>
    validateAgainstSchema(headerValidator, appHdr, root, 'HEADER_SCHEMA_VIOLATION', limits.reasonsPerMessageMax).length +
    validateAgainstSchema(documentValidator, body, root, 'SCHEMA_VIOLATION', limits.reasonsPerMessageMax).length;
  const read = (): Pacs008 => readPacs008(body, version, readBusinessAppHeader(appHdr, headerVersion));
  const model = read();
  const ruleContext = { now, limits };
  const rules = (): number => {
    let reasons = 0;
    for (const rule of RULES) reasons += rule(model, ruleContext).length;
    return reasons;
  };

  // Sanity: the fast path is the accepting path, and every alternative sees the same transactions.
  if (validate() !== 0) fail(message, 'schema-invalid');
  if (model.transactions.length !== message.transactions) fail(message, `read ${model.transactions.length} transactions`);
  if (rules() !== 0) fail(message, 'a business rule fails');
  const verdict = checkPacs008(message.xml, { schemas, now });
  if (!verdict.accepted) fail(message, `checkPacs008 rejects it: ${JSON.stringify(verdict.reasons)}`);
  const parsed = xmlParser.parse(decoder.decode(message.xml)) as { Envelope: { Document: { FIToFICstmrCdtTrf: { CdtTrfTxInf: unknown[] } } } };
  if (parsed.Envelope.Document.FIToFICstmrCdtTrf.CdtTrfTxInf.length !== message.transactions) fail(message, 'fast-xml-parser lost transactions');
  const json = JSON.parse(decoder.decode(message.json)) as { Document: { FIToFICstmrCdtTrf: { CdtTrfTxInf: Record<string, unknown>[] } } };
  if (!jsonValidator(json)) fail(message, `ajv rejects the JSON: ${JSON.stringify(jsonValidator.errors)}`);
  const broken = structuredClone(json);
  delete broken.Document.FIToFICstmrCdtTrf.CdtTrfTxInf.at(-1)?.['ChrgBr'];
  if (jsonValidator(broken)) fail(message, 'ajv accepts a transaction without ChrgBr: the schema is vacuous');

  const operations: StageOperation[] = [
    {
      name: OP.parse,
      run: () => {
        const doc = XmlDocument.fromBuffer(message.xml, { option: PARSE_OPTIONS });
        doc.dispose();
        return doc;
      },
    },
    { name: OP.xsd, run: validate },
    { name: OP.read, run: read },
    { name: OP.rules, run: rules },
    { name: OP.whole, run: () => checkPacs008(message.xml, { schemas, now }) },
    { name: OP.fxp, run: () => xmlParser.parse(decoder.decode(message.xml)) },
    {
      name: OP.json,
      run: () => {
        const value: unknown = JSON.parse(decoder.decode(message.json));
        if (!jsonValidator(value)) throw new Error('JSON baseline became invalid');
        return value;
      },
    },
    // Not a contender: BENCHMARKING.md's floor for JSON.parse of ~11 KB is ~38 µs on a quiet machine, so this
    // row says how fast the machine was during the run.
    { name: OP.jsonParse, run: () => JSON.parse(decoder.decode(message.json)) },
  ];
  return {
    operations,
    [Symbol.dispose]: () => document.dispose(),
  };
}
