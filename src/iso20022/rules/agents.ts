/**
 * Agent rules. InstgAgt/InstdAgt stand at one level only (ISO InstructingAgentRule/InstructedAgentRule), and
 * the gateway needs one instructing agent BIC per message: it is who sent the message, the key of duplicate
 * detection (instructing agent, MsgId) and what a partner's entitlement is checked against.
 * The Business Application Header must agree with the Document it carries.
 */
import type { Agent, Pacs008 } from '../model.ts';
import { reason, type Reason } from '../reasons.ts';
import type { Rule } from './context.ts';

/** `DEUTDEFF` and `DEUTDEFFXXX` name the same institution (XXX is the primary office). */
export function normaliseBic(bic: string): string {
  return bic.length === 8 ? `${bic}XXX` : bic;
}

export function sameBic(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && normaliseBic(a) === normaliseBic(b);
}

/** The instructing agent of each transaction: the group's when given there, else the transaction's own. */
function instructingAgents(message: Pacs008): (Agent | undefined)[] {
  return message.transactions.map((tx) => message.group.instructingAgent ?? tx.instructingAgent);
}

export const agentLevels: Rule = ({ group, transactions }) => {
  const reasons: Reason[] = [];
  for (const [element, groupAgent] of [['InstgAgt', group.instructingAgent], ['InstdAgt', group.instructedAgent]] as const) {
    if (groupAgent === undefined) continue;
    const tx = transactions.find((t) => (element === 'InstgAgt' ? t.instructingAgent : t.instructedAgent) !== undefined);
    if (tx !== undefined) {
      reasons.push(reason('AGENT_AT_BOTH_LEVELS', `${tx.path}/${element}`, `GrpHdr/${element} is present, so transactions may not carry their own ${element}.`));
    }
  }
  return reasons;
};

export const instructingAgent: Rule = (message) => {
  const agents = instructingAgents(message);
  const missing = agents.findIndex((agent) => agent?.bic === undefined);
  const tx = message.transactions[missing];
  if (tx !== undefined) {
    return [reason('INSTRUCTING_AGENT_MISSING', `${tx.path}/InstgAgt`,
      'The instructing agent must be identified by a BIC, in GrpHdr/InstgAgt or in every transaction.')];
  }
  const first = agents[0]?.bic;
  const other = agents.findIndex((agent) => !sameBic(agent?.bic, first));
  const otherTx = message.transactions[other];
  if (otherTx !== undefined) {
    return [reason('INSTRUCTING_AGENT_MIXED', `${otherTx.path}/InstgAgt`,
      `Transaction ${otherTx.index} names instructing agent ${agents[other]?.bic ?? ''}, transaction 1 names ${first ?? ''}; one message comes from one bank.`)];
  }
  return [];
};

export const headerConsistency: Rule = (message) => {
  const { header, group } = message;
  if (header === undefined) return [];
  const reasons: Reason[] = [];
  if (header.businessMessageId !== group.messageId) {
    reasons.push(reason('HEADER_MSG_ID_MISMATCH', `${header.path}/BizMsgIdr`, `BizMsgIdr ${header.businessMessageId} differs from GrpHdr/MsgId ${group.messageId}.`));
  }
  if (header.messageDefinitionId !== message.messageType) {
    reasons.push(reason('HEADER_MSG_DEF_MISMATCH', `${header.path}/MsgDefIdr`, `MsgDefIdr ${header.messageDefinitionId} differs from the Document's message type ${message.messageType}.`));
  }
  const instructing = instructingAgents(message)[0]?.bic;
  if (instructing !== undefined && !sameBic(header.from?.bic, instructing)) {
    reasons.push(reason('HEADER_FROM_MISMATCH', `${header.path}/Fr`, `AppHdr/Fr (${header.from?.bic ?? 'no BIC'}) is not the instructing agent ${instructing}.`));
  }
  const instructed = message.transactions.map((tx) => group.instructedAgent ?? tx.instructedAgent).find((agent) => !sameBic(header.to?.bic, agent?.bic));
  if (instructed !== undefined || (message.transactions.length > 0 && header.to?.bic === undefined)) {
    reasons.push(reason('HEADER_TO_MISMATCH', `${header.path}/To`, `AppHdr/To (${header.to?.bic ?? 'no BIC'}) is not the instructed agent ${instructed?.bic ?? '(none given)'}.`));
  }
  return reasons;
};
