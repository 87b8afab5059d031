/**
 * InstructionForCreditorAgent rules of the ISO message definition:
 * - CHQB (pay the creditor by cheque) and a CdtrAcct contradict each other.
 * - CHQB and HOLD (hold cash for the creditor) are mutually exclusive; so are PHOB and TELB.
 */
import { reason, type Reason } from '../reasons.ts';
import type { Rule } from './context.ts';

export const creditorAgentInstructions: Rule = ({ transactions }) => {
  const reasons: Reason[] = [];
  for (const tx of transactions) {
    const byCode = new Map(tx.instructionsForCreditorAgent.flatMap((i) => (i.code === undefined ? [] : [[i.code, i] as const])));
    const cheque = byCode.get('CHQB');
    if (cheque !== undefined && tx.creditorAccount !== undefined) {
      reasons.push(reason('CHEQUE_WITH_CREDITOR_ACCOUNT', tx.creditorAccount.path,
        'InstrForCdtrAgt asks for payment by cheque (CHQB), so CdtrAcct is not allowed.', tx.index));
    }
    const hold = byCode.get('HOLD');
    if (cheque !== undefined && hold !== undefined) {
      reasons.push(reason('CHEQUE_WITH_HOLD', hold.path, 'InstrForCdtrAgt may not combine CHQB (pay by cheque) with HOLD (hold cash for creditor).', tx.index));
    }
    const telecom = byCode.get('TELB');
    if (byCode.has('PHOB') && telecom !== undefined) {
      reasons.push(reason('PHONE_WITH_TELECOM', telecom.path, 'InstrForCdtrAgt may not combine PHOB (phone beneficiary) with TELB (telecom).', tx.index));
    }
  }
  return reasons;
};
