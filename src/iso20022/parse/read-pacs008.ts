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
import { pacs008MessageType } from './versions.ts';

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

/**
 * The model under construction. Optional members are assigned only when present (never `undefined`), in the
 * order the model has always listed them; plain assignments instead of `...(x === undefined ? {} : { x })`
 * spreads keep the reader off the allocation-heavy path (it runs for every message, ~40 objects a transaction).
 */
type Building<T> = { -readonly [K in keyof T]: T[K] };

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
  const agent: Building<Agent> = { path: institution.path };
  const bic = institution.text(names.bic);
  if (bic !== undefined) agent.bic = bic;
  const clearingMemberId = institution.one('ClrSysMmbId')?.text('MmbId');
  if (clearingMemberId !== undefined) agent.clearingMemberId = clearingMemberId;
  const lei = institution.text('LEI');
  if (lei !== undefined) agent.lei = lei;
  const name = institution.text('Nm') ?? institution.one('NmAndAdr')?.text('Nm');
  if (name !== undefined) agent.name = name;
  return agent;
}

function readAccount(element: ElementReader | undefined): Account | undefined {
  if (element === undefined) return undefined;
  const account: Building<Account> = { path: element.path };
  const id = element.one('Id');
  const iban = id?.text('IBAN');
  if (iban !== undefined) account.iban = iban;
  const other = id?.one('Othr')?.text('Id');
  if (other !== undefined) account.other = other;
  const currency = element.text('Ccy');
  if (currency !== undefined) account.currency = currency;
  return account;
}

function readParty(element: ElementReader | undefined, what: string): Party {
  const party = required(element, what);
  const out: Building<Party> = { path: party.path };
  const name = party.text('Nm');
  if (name !== undefined) out.name = name;
  const country = party.one('PstlAdr')?.text('Ctry') ?? party.text('CtryOfRes');
  if (country !== undefined) out.country = country;
  return out;
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
    const out: Building<ChargesInfo> = { path: charges.path, amount: required(readAmount(charges.one(names.chargesAmount)), 'ChrgsInf amount') };
    if (agent !== undefined) out.agent = agent;
    return out;
  });
}

function readInstructions(tx: ElementReader): InstructionForCreditorAgent[] {
  return tx.all('InstrForCdtrAgt').map((instruction) => {
    const out: Building<InstructionForCreditorAgent> = { path: instruction.path };
    const code = instruction.text('Cd');
    if (code !== undefined) out.code = code;
    const info = instruction.text('InstrInf');
    if (info !== undefined) out.info = info;
    return out;
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
  const transfer: Building<CreditTransfer> = {
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
  };
  if (instructionId !== undefined) transfer.instructionId = instructionId;
  if (transactionId !== undefined) transfer.transactionId = transactionId;
  if (uetr !== undefined) transfer.uetr = uetr;
  if (settlementDate !== undefined) transfer.settlementDate = settlementDate;
  if (instructedAmount !== undefined) transfer.instructedAmount = instructedAmount;
  if (rate !== undefined) {
    const text = rate.content;
    transfer.exchangeRate = { text, value: decimalOf(text, rate.path), path: rate.path };
  }
  if (instructingAgent !== undefined) transfer.instructingAgent = instructingAgent;
  if (instructedAgent !== undefined) transfer.instructedAgent = instructedAgent;
  if (debtorAccount !== undefined) transfer.debtorAccount = debtorAccount;
  if (creditorAccount !== undefined) transfer.creditorAccount = creditorAccount;
  if (purposeCode !== undefined) transfer.purposeCode = purposeCode;
  return transfer;
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
  const messageType = pacs008MessageType(version);
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
