/**
 * The business rules, in the order they are reported. Group-level rules come first: a message that fails one
 * is rejected whole; transaction-level rules reject only their transaction.
 */
import { agentLevels, headerConsistency, instructingAgent } from './agents.ts';
import { amounts } from './amounts.ts';
import { chargesAndExchange } from './charges-and-fx.ts';
import type { Rule } from './context.ts';
import { creditorAgentInstructions } from './creditor-agent-instructions.ts';
import { creationDateTime, expiry, settlementDateLevel } from './dates.ts';
import { controlSum, numberOfTransactions, totalSettlementAmount } from './group-totals.ts';
import { bics, ibans, uniqueReferences } from './identifiers.ts';

export type { Rule, RuleContext } from './context.ts';

export const RULES: readonly Rule[] = [
  headerConsistency,
  numberOfTransactions,
  controlSum,
  totalSettlementAmount,
  creationDateTime,
  expiry,
  agentLevels,
  instructingAgent,
  amounts,
  settlementDateLevel,
  uniqueReferences,
  bics,
  ibans,
  chargesAndExchange,
  creditorAgentInstructions,
];
