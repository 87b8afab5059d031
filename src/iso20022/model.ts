/**
 * The typed pacs.008 model: what the gateway reads out of a message.
 *
 * Every identifier is the exact text of its element (no number coercion: `011104238` stays `011104238`).
 * Every amount keeps its exact decimal text; conversion to minor units happens once the currency is known
 * to be valid (see `money.ts`), never through `number`.
 * Repeatable elements are always arrays, even when the message carries one occurrence.
 */

/** An exact decimal as written in the message: `coefficient × 10^-scale` (e.g. "1250.50" → 125050n, 2). */
export interface Decimal {
  readonly coefficient: bigint;
  readonly scale: number;
}

/** An amount with its currency attribute, as written (`<IntrBkSttlmAmt Ccy="EUR">1250.50</IntrBkSttlmAmt>`). */
export interface AmountText {
  readonly currency: string;
  readonly text: string;
  readonly value: Decimal;
  /** Element path of the amount, for reason codes. */
  readonly path: string;
}

/** Money the ledger can post: integer minor units of an ISO 4217 currency. */
export interface Money {
  readonly minor: bigint;
  readonly currency: string;
}

/** A financial institution as identified in an agent element (InstgAgt, DbtrAgt, …). */
export interface Agent {
  /** BICFI (v03+) or BIC (v01–v02); absent when the agent is identified otherwise (clearing member id, name). */
  readonly bic?: string;
  readonly clearingMemberId?: string;
  readonly lei?: string;
  readonly name?: string;
  readonly path: string;
}

export interface Account {
  readonly iban?: string;
  /** Other (proprietary) account identification. */
  readonly other?: string;
  readonly currency?: string;
  readonly path: string;
}

export interface Party {
  readonly name?: string;
  readonly country?: string;
  readonly path: string;
}

export interface ChargesInfo {
  readonly amount: AmountText;
  readonly agent?: Agent;
  readonly path: string;
}

export interface InstructionForCreditorAgent {
  readonly code?: string;
  readonly info?: string;
  readonly path: string;
}

export interface CreditTransfer {
  /** 1-based position in the message, as in the element path `CdtTrfTxInf[n]`. */
  readonly index: number;
  readonly path: string;
  readonly instructionId?: string;
  readonly endToEndId: string;
  readonly transactionId?: string;
  readonly uetr?: string;
  readonly settlementAmount: AmountText;
  readonly settlementDate?: string;
  readonly instructedAmount?: AmountText;
  /** Exchange rate, exact decimal text. */
  readonly exchangeRate?: { readonly text: string; readonly value: Decimal; readonly path: string };
  readonly chargeBearer: string;
  readonly charges: readonly ChargesInfo[];
  readonly instructingAgent?: Agent;
  readonly instructedAgent?: Agent;
  readonly intermediaryAgents: readonly Agent[];
  readonly debtor: Party;
  readonly debtorAccount?: Account;
  readonly debtorAgent: Agent;
  readonly creditorAgent: Agent;
  readonly creditor: Party;
  readonly creditorAccount?: Account;
  /** Other accounts carried by the transaction (agent accounts), for IBAN checks. */
  readonly otherAccounts: readonly Account[];
  readonly instructionsForCreditorAgent: readonly InstructionForCreditorAgent[];
  readonly purposeCode?: string;
  readonly remittanceUnstructured: readonly string[];
}

export interface GroupHeader {
  readonly path: string;
  readonly messageId: string;
  /** Exact text of CreDtTm. */
  readonly creationDateTime: string;
  readonly expiryDateTime?: string;
  readonly numberOfTransactions: string;
  readonly controlSum?: { readonly text: string; readonly value: Decimal; readonly path: string };
  readonly totalSettlementAmount?: AmountText;
  readonly settlementDate?: string;
  readonly settlementMethod: string;
  readonly instructingAgent?: Agent;
  readonly instructedAgent?: Agent;
}

/** The head.001 Business Application Header, when the message carries one. */
export interface BusinessAppHeader {
  /** head.001.001.NN version number. */
  readonly version: number;
  readonly namespace: string;
  readonly path: string;
  readonly from?: Agent;
  readonly to?: Agent;
  readonly businessMessageId: string;
  readonly messageDefinitionId: string;
  readonly businessService?: string;
  readonly creationDate: string;
}

/** A pacs.008 FIToFICustomerCreditTransfer, version-independent. */
export interface Pacs008 {
  /** pacs.008.001.NN version number (1–14). */
  readonly version: number;
  /** e.g. `pacs.008.001.08` */
  readonly messageType: string;
  readonly namespace: string;
  readonly header?: BusinessAppHeader;
  readonly group: GroupHeader;
  readonly transactions: readonly CreditTransfer[];
}
