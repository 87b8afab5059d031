/**
 * Identifier rules: BICs (ISO 9362) and IBANs (ISO 13616, mod-97) checked with `ibantools`, a maintained
 * implementation with per-country IBAN formats; transaction references unique within the message.
 */
import { isValidBIC, isValidIBAN } from 'ibantools';
import type { Account, Agent } from '../model.ts';
import { reason, type Reason, type ReasonId } from '../reasons.ts';
import type { Rule } from './context.ts';

/** The BIC element is `BIC` in pacs.008 v01–v02 and `BICFI` since (and in every head.001). */
function checkBic(agent: Agent | undefined, transaction: number | undefined, element: 'BIC' | 'BICFI'): Reason[] {
  if (agent?.bic === undefined || isValidBIC(agent.bic)) return [];
  return [reason('BIC_INVALID', `${agent.path}/${element}`, `${agent.bic} is not a valid BIC (ISO 9362: 4-letter institution, ISO 3166 country, location, optional branch).`, transaction)];
}

function checkIban(account: Account | undefined, id: ReasonId, transaction: number): Reason[] {
  if (account?.iban === undefined || isValidIBAN(account.iban)) return [];
  return [reason(id, `${account.path}/Id/IBAN`, `${account.iban} is not a valid IBAN (country format or check digits).`, transaction)];
}

export const bics: Rule = ({ version, header, group, transactions }) => {
  const element = version <= 2 ? 'BIC' : 'BICFI';
  const reasons = [
    ...checkBic(header?.from, undefined, 'BICFI'),
    ...checkBic(header?.to, undefined, 'BICFI'),
    ...checkBic(group.instructingAgent, undefined, element),
    ...checkBic(group.instructedAgent, undefined, element),
  ];
  for (const tx of transactions) {
    const agents = [tx.instructingAgent, tx.instructedAgent, tx.debtorAgent, tx.creditorAgent, ...tx.intermediaryAgents, ...tx.charges.map((c) => c.agent)];
    for (const agent of agents) reasons.push(...checkBic(agent, tx.index, element));
  }
  return reasons;
};

export const ibans: Rule = ({ transactions }) =>
  transactions.flatMap((tx) => [
    ...checkIban(tx.debtorAccount, 'DEBTOR_IBAN_INVALID', tx.index),
    ...checkIban(tx.creditorAccount, 'CREDITOR_IBAN_INVALID', tx.index),
    ...tx.otherAccounts.flatMap((account) => checkIban(account, 'IBAN_INVALID', tx.index)),
  ]);

/**
 * TxId and UETR identify one transaction; a repeat within the message would make two payments
 * indistinguishable downstream. The first occurrence stands, later ones are rejected.
 */
export const uniqueReferences: Rule = ({ transactions }) => {
  const reasons: Reason[] = [];
  const seen = { TxId: new Map<string, number>(), UETR: new Map<string, number>() };
  for (const tx of transactions) {
    for (const [element, value] of [['TxId', tx.transactionId], ['UETR', tx.uetr]] as const) {
      if (value === undefined) continue;
      const first = seen[element].get(value);
      if (first === undefined) seen[element].set(value, tx.index);
      else reasons.push(reason('DUPLICATE_REFERENCE', `${tx.path}/PmtId/${element}`, `${element} ${value} is already used by transaction ${first}.`, tx.index));
    }
  }
  return reasons;
};
