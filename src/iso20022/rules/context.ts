import type { MessageLimits } from '../limits.ts';
import type { Pacs008 } from '../model.ts';
import type { Reason } from '../reasons.ts';

/** What a rule may consult besides the message: the clock (passed in, so tests and replays are exact) and limits. */
export interface RuleContext {
  readonly now: Date;
  readonly limits: MessageLimits;
}

/** A business rule: reads the message, returns every violation it finds (none when the message obeys it). */
export type Rule = (message: Pacs008, context: RuleContext) => Reason[];
