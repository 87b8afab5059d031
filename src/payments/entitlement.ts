/**
 * Partner entitlement: a partner may only send pacs.008 on behalf of its own BICs. Every place where the message
 * names its sender — the BAH `Fr`, the group's instructing agent, each transaction's instructing agent — must be one
 * of the caller's registered BICs (8 and 11 character forms of one BIC are the same institution). A message that
 * names no sender by BIC cannot be attributed and is refused too.
 */
import type { Agent, Pacs008, Reason } from '../iso20022/index.ts';
import { reason } from '../iso20022/reasons.ts';
import { sameBic } from '../iso20022/rules/agents.ts';

/** The reason (ISO AGNT, "agent in the payment workflow is incorrect") when the caller may not send this message. */
export function entitlementViolation(message: Pacs008, partnerBics: readonly string[]): Reason | undefined {
  const senders: Agent[] = [];
  if (message.header?.from !== undefined) senders.push(message.header.from);
  if (message.group.instructingAgent !== undefined) senders.push(message.group.instructingAgent);
  for (const transaction of message.transactions) {
    if (transaction.instructingAgent !== undefined) senders.push(transaction.instructingAgent);
  }
  if (senders.length === 0) {
    return reason('SENDER_NOT_ENTITLED', message.group.path, 'the message names no instructing agent, so its sender cannot be verified');
  }
  for (const agent of senders) {
    if (agent.bic === undefined) {
      return reason('SENDER_NOT_ENTITLED', agent.path, 'the sending agent must be identified by BIC');
    }
    if (!partnerBics.some((bic) => sameBic(bic, agent.bic))) {
      return reason('SENDER_NOT_ENTITLED', agent.path, `${agent.bic} is not a BIC this partner may send for`);
    }
  }
  return undefined;
}
