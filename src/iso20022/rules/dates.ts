/**
 * Date rules: the settlement date stands at exactly one level (DT01), the creation time is plausible (DT02),
 * and a message past its expiry time (XpryDtTm, v13+) is refused.
 */
import { reason, type Reason } from '../reasons.ts';
import type { Rule } from './context.ts';

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;
/** A date-time without an offset could be local time anywhere on Earth: UTC-12 to UTC+14. */
const UNKNOWN_OFFSET_SPAN_MS = 14 * 60 * 60 * 1000;

/** Instant of an xs:dateTime (`2026-11-21T10:15:00.123+01:00`); `offsetKnown` is false when it has none. */
export function parseIsoDateTime(text: string): { epochMs: number; offsetKnown: boolean } | undefined {
  const m = ISO_DATE_TIME.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, fraction, zone] = m;
  const millis = fraction === undefined ? 0 : Math.floor(Number(`0${fraction}`) * 1000);
  let epochMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), millis);
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    epochMs -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  return { epochMs, offsetKnown: zone !== undefined };
}

export const creationDateTime: Rule = ({ group }, { now, limits }) => {
  const path = `${group.path}/CreDtTm`;
  const created = parseIsoDateTime(group.creationDateTime);
  if (created === undefined) return [reason('CREATION_DATE_TIME_IMPLAUSIBLE', path, `CreDtTm ${group.creationDateTime} is not a date-time.`)];
  const slack = created.offsetKnown ? 0 : UNKNOWN_OFFSET_SPAN_MS;
  const nowMs = now.getTime();
  if (created.epochMs - slack > nowMs + limits.creationFutureSkewMs) {
    return [reason('CREATION_DATE_TIME_IMPLAUSIBLE', path,
      `CreDtTm ${group.creationDateTime} is in the future (more than ${limits.creationFutureSkewMs / 1000} s ahead of ${now.toISOString()}).`)];
  }
  if (created.epochMs + slack < nowMs - limits.creationAgeMaxMs) {
    return [reason('CREATION_DATE_TIME_IMPLAUSIBLE', path,
      `CreDtTm ${group.creationDateTime} is more than ${Math.round(limits.creationAgeMaxMs / 86_400_000)} days old.`)];
  }
  return [];
};

export const expiry: Rule = ({ group }, { now }) => {
  if (group.expiryDateTime === undefined) return [];
  const expires = parseIsoDateTime(group.expiryDateTime);
  if (expires === undefined || expires.epochMs >= now.getTime()) return [];
  return [reason('MESSAGE_EXPIRED', `${group.path}/XpryDtTm`, `The message expired at ${group.expiryDateTime}.`)];
};

export const settlementDateLevel: Rule = ({ group, transactions }) => {
  const reasons: Reason[] = [];
  for (const tx of transactions) {
    if (group.settlementDate !== undefined && tx.settlementDate !== undefined) {
      reasons.push(reason('SETTLEMENT_DATE_AT_BOTH_LEVELS', `${tx.path}/IntrBkSttlmDt`,
        'GrpHdr/IntrBkSttlmDt is present, so the transaction may not carry its own IntrBkSttlmDt.', tx.index));
    } else if (group.settlementDate === undefined && tx.settlementDate === undefined) {
      reasons.push(reason('SETTLEMENT_DATE_MISSING', `${tx.path}/IntrBkSttlmDt`,
        'IntrBkSttlmDt is required in the transaction when GrpHdr carries none.', tx.index));
    }
  }
  return reasons;
};
