/**
 * Reads a schema-valid pacs.008 Document (any version 01–14) and its optional AppHdr into the typed model.
 *
 * Runs after XSD validation, so mandatory elements are present and typed; what differs between versions is
 * confined to {@link VERSION_NAMES}. Identifiers are read as exact strings, amounts as exact decimals.
 */
import type { XmlElement } from 'libxml2-wasm';
import { parseDecimal } from '../decimal.ts';
import type {
  Account, Agent, AmountText, BusinessAppHeader, ChargesInfo, CreditTransfer, Decimal, GroupHeader,
  InstructionForCreditorAgent, Pacs008, Party,
} from '../model.ts';
import { ElementReader } from './dom.ts';

/** Element names that changed between versions. */
interface VersionNames {
  readonly message: string;
  readonly bic: string;
  readonly chargesAmount: string;
  readonly chargesAgent: string;
}

function namesFor(version: number): VersionNames {
  if (version === 1) return { message: 'pacs.008.001.01', bic: 'BIC', chargesAmount: 'ChrgsAmt', chargesAgent: 'ChrgsPty' };
  if (version === 2) return { message: 'FIToFICstmrCdtTrf', bic: 'BIC', chargesAmount: 'Amt', chargesAgent: 'Pty' };
  return { message: 'FIToFICstmrCdtTrf', bic: 'BICFI', chargesAmount: 'Amt', chargesAgent: 'Agt' };
}

/** The three intermediary agents and the agent accounts carried by a transaction. */
const INTERMEDIARY_AGENTS = ['IntrmyAgt1', 'IntrmyAgt2', 'IntrmyAgt3'] as const;
const AGENT_ACCOUNTS = [
  'PrvsInstgAgtAcct', 'PrvsInstgAgt1Acct', 'PrvsInstgAgt2Acct', 'PrvsInstgAgt3Acct',
  'IntrmyAgt1Acct', 'IntrmyAgt2Acct', 'IntrmyAgt3Acct', 'DbtrAgtAcct', 'CdtrAgtAcct',
] as const;

/** Thrown when a schema-valid document still lacks what the reader needs: a programmer error, not input. */
function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new TypeError(`schema-valid pacs.008 lacks ${what}`);
  return value;
}

function decimalOf(text: string, path: string): Decimal {
  return required(parseDecimal(text), `a decimal at ${path}`);
}

function readAmount(element: ElementReader | undefined): AmountText | undefined {
  if (element === undefined) return undefined;
  const text = element.content;
  return { currency: element.attr('Ccy') ?? '', text, value: decimalOf(text, element.path), path: element.path };
}

function readAgent(element: ElementReader | undefined, names: VersionNames): Agent | undefined {
  if (element === undefined) return undefined;
  const institution = element.one('FinInstnId');
  if (institution === undefined) return { path: element.path };
  const bic = institution.text(names.bic);
  const clearingMemberId = institution.one('ClrSysMmbId')?.text('MmbId');
  const lei = institution.text('LEI');
  const name = institution.text('Nm') ?? institution.one('NmAndAdr')?.text('Nm');
  return {
    path: institution.path,
    ...(bic === undefined ? {} : { bic }),
    ...(clearingMemberId === undefined ? {} : { clearingMemberId }),
    ...(lei === undefined ? {} : { lei }),
    ...(name === undefined ? {} : { name }),
  };
}

function readAccount(element: ElementReader | undefined): Account | undefined {
  if (element === undefined) return undefined;
  const id = element.one('Id');
  const iban = id?.text('IBAN');
  const other = id?.one('Othr')?.text('Id');
  const currency = element.text('Ccy');
  return {
    path: element.path,
    ...(iban === undefined ? {} : { iban }),
    ...(other === undefined ? {} : { other }),
    ...(currency === undefined ? {} : { currency }),
  };
}

function readParty(element: ElementReader | undefined, what: string): Party {
  const party = required(element, what);
  const name = party.text('Nm');
  const country = party.one('PstlAdr')?.text('Ctry') ?? party.text('CtryOfRes');
  return { path: party.path, ...(name === undefined ? {} : { name }), ...(country === undefined ? {} : { country }) };
}

function readGroupHeader(group: ElementReader, names: VersionNames): GroupHeader {
  const ctrlSum = group.one('CtrlSum');
  const total = readAmount(group.one('TtlIntrBkSttlmAmt'));
  const expiry = group.text('XpryDtTm');
  const settlementDate = group.text('IntrBkSttlmDt');
  const instructingAgent = readAgent(group.one('InstgAgt'), names);
  const instructedAgent = readAgent(group.one('InstdAgt'), names);
  return {
    path: group.path,
    messageId: required(group.text('MsgId'), 'GrpHdr/MsgId'),
    creationDateTime: required(group.text('CreDtTm'), 'GrpHdr/CreDtTm'),
    numberOfTransactions: required(group.text('NbOfTxs'), 'GrpHdr/NbOfTxs'),
    settlementMethod: required(group.one('SttlmInf')?.text('SttlmMtd'), 'GrpHdr/SttlmInf/SttlmMtd'),
    ...(ctrlSum === undefined ? {} : { controlSum: { text: ctrlSum.content, value: decimalOf(ctrlSum.content, ctrlSum.path), path: ctrlSum.path } }),
    ...(total === undefined ? {} : { totalSettlementAmount: total }),
    ...(expiry === undefined ? {} : { expiryDateTime: expiry }),
    ...(settlementDate === undefined ? {} : { settlementDate }),
    ...(instructingAgent === undefined ? {} : { instructingAgent }),
    ...(instructedAgent === undefined ? {} : { instructedAgent }),
  };
}

function readCharges(tx: ElementReader, names: VersionNames): ChargesInfo[] {
  return tx.all('ChrgsInf').map((charges) => {
    const agent = readAgent(charges.one(names.chargesAgent), names);
    return {
      path: charges.path,
      amount: required(readAmount(charges.one(names.chargesAmount)), 'ChrgsInf amount'),
      ...(agent === undefined ? {} : { agent }),
    };
  });
}

function readInstructions(tx: ElementReader): InstructionForCreditorAgent[] {
  return tx.all('InstrForCdtrAgt').map((instruction) => {
    const code = instruction.text('Cd');
    const info = instruction.text('InstrInf');
    return { path: instruction.path, ...(code === undefined ? {} : { code }), ...(info === undefined ? {} : { info }) };
  });
}

function readTransaction(tx: ElementReader, index: number, names: VersionNames): CreditTransfer {
  const paymentId = required(tx.one('PmtId'), 'PmtId');
  const instructionId = paymentId.text('InstrId');
  const transactionId = paymentId.text('TxId');
  const uetr = paymentId.text('UETR');
  const settlementDate = tx.text('IntrBkSttlmDt');
  const instructedAmount = readAmount(tx.one('InstdAmt'));
  const rate = tx.one('XchgRate');
  const instructingAgent = readAgent(tx.one('InstgAgt'), names);
  const instructedAgent = readAgent(tx.one('InstdAgt'), names);
  const debtorAccount = readAccount(tx.one('DbtrAcct'));
  const creditorAccount = readAccount(tx.one('CdtrAcct'));
  const purposeCode = tx.one('Purp')?.text('Cd');
  const intermediaryAgents: Agent[] = [];
  for (const name of INTERMEDIARY_AGENTS) {
    const agent = readAgent(tx.one(name), names);
    if (agent !== undefined) intermediaryAgents.push(agent);
  }
  const otherAccounts: Account[] = [];
  for (const name of AGENT_ACCOUNTS) {
    const account = readAccount(tx.one(name));
    if (account !== undefined) otherAccounts.push(account);
  }
  return {
    index,
    path: tx.path,
    endToEndId: required(paymentId.text('EndToEndId'), 'PmtId/EndToEndId'),
    settlementAmount: required(readAmount(tx.one('IntrBkSttlmAmt')), 'IntrBkSttlmAmt'),
    chargeBearer: required(tx.text('ChrgBr'), 'ChrgBr'),
    charges: readCharges(tx, names),
    intermediaryAgents,
    debtor: readParty(tx.one('Dbtr'), 'Dbtr'),
    debtorAgent: required(readAgent(tx.one('DbtrAgt'), names), 'DbtrAgt'),
    creditorAgent: required(readAgent(tx.one('CdtrAgt'), names), 'CdtrAgt'),
    creditor: readParty(tx.one('Cdtr'), 'Cdtr'),
    otherAccounts,
    instructionsForCreditorAgent: readInstructions(tx),
    remittanceUnstructured: tx.one('RmtInf')?.all('Ustrd').map((u) => u.content) ?? [],
    ...(instructionId === undefined ? {} : { instructionId }),
    ...(transactionId === undefined ? {} : { transactionId }),
    ...(uetr === undefined ? {} : { uetr }),
    ...(settlementDate === undefined ? {} : { settlementDate }),
    ...(instructedAmount === undefined ? {} : { instructedAmount }),
    ...(rate === undefined ? {} : { exchangeRate: { text: rate.content, value: decimalOf(rate.content, rate.path), path: rate.path } }),
    ...(instructingAgent === undefined ? {} : { instructingAgent }),
    ...(instructedAgent === undefined ? {} : { instructedAgent }),
    ...(debtorAccount === undefined ? {} : { debtorAccount }),
    ...(creditorAccount === undefined ? {} : { creditorAccount }),
    ...(purposeCode === undefined ? {} : { purposeCode }),
  };
}

export function readBusinessAppHeader(appHdr: XmlElement, version: number): BusinessAppHeader {
  const header = ElementReader.root(appHdr);
  const names = namesFor(3); // every head.001 version uses FIId/FinInstnId/BICFI
  const from = readAgent(header.one('Fr')?.one('FIId'), names);
  const to = readAgent(header.one('To')?.one('FIId'), names);
  const businessService = header.text('BizSvc');
  return {
    version,
    namespace: appHdr.namespaceUri,
    path: header.path,
    businessMessageId: required(header.text('BizMsgIdr'), 'AppHdr/BizMsgIdr'),
    messageDefinitionId: required(header.text('MsgDefIdr'), 'AppHdr/MsgDefIdr'),
    creationDate: required(header.text('CreDt'), 'AppHdr/CreDt'),
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
    ...(businessService === undefined ? {} : { businessService }),
  };
}

/** Reads a Document already validated against the pacs.008 schema of `version`. */
export function readPacs008(document: XmlElement, version: number, header?: BusinessAppHeader): Pacs008 {
  const names = namesFor(version);
  const message = required(ElementReader.root(document).one(names.message), names.message);
  const group = readGroupHeader(required(message.one('GrpHdr'), 'GrpHdr'), names);
  const transactions = message.all('CdtTrfTxInf').map((tx, i) => readTransaction(tx, i + 1, names));
  const messageType = `pacs.008.001.${String(version).padStart(2, '0')}`;
  return { version, messageType, namespace: document.namespaceUri, group, transactions, ...(header === undefined ? {} : { header }) };
}

/** What identifies a message and its transactions, read tolerantly from a Document that failed its schema. */
export interface MessageIdentity {
  readonly messageId?: string;
  readonly creationDateTime?: string;
  readonly transactions: readonly { readonly instructionId?: string; readonly endToEndId?: string; readonly transactionId?: string; readonly uetr?: string }[];
}

/**
 * Best-effort identification of a schema-invalid message, so that the rejection can still be a pacs.002
 * that names the original message and transactions. Never throws on missing elements.
 */
export function identifyMessage(document: XmlElement, version: number): MessageIdentity {
  const message = ElementReader.root(document).one(namesFor(version).message);
  const group = message?.one('GrpHdr');
  const messageId = group?.text('MsgId');
  const creationDateTime = group?.text('CreDtTm');
  const transactions = (message?.all('CdtTrfTxInf') ?? []).map((tx) => {
    const id = tx.one('PmtId');
    const entries = { instructionId: id?.text('InstrId'), endToEndId: id?.text('EndToEndId'), transactionId: id?.text('TxId'), uetr: id?.text('UETR') };
    return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined));
  });
  return {
    transactions,
    ...(messageId === undefined ? {} : { messageId }),
    ...(creationDateTime === undefined ? {} : { creationDateTime }),
  };
}
