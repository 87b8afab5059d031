/**
 * What the demo partner bank does with ISO 20022 text and amounts, as a partner would without our library: fresh
 * copies of a template message (new identifiers, today's dates), an amount or CtrlSum changed, the statuses and
 * reason codes read off a pacs.002, exact decimal amounts as bigint minor units. Regular expressions suffice: the
 * gateway's XML is regular and the demo reads only what it prints.
 */
import { randomUUID } from 'node:crypto';

export interface Pacs002Summary {
  readonly groupStatus: string | undefined;
  readonly transactionStatuses: readonly string[];
  readonly reasons: readonly { readonly code: string; readonly path?: string | undefined }[];
}

/** What a partner reads off a pacs.002: group status, transaction statuses, reason codes with the element path in AddtlInf. */
export function readPacs002(xml: string): Pacs002Summary {
  const reasons = [...xml.matchAll(/<StsRsnInf>([\s\S]*?)<\/StsRsnInf>/g)].map((block) => {
    const code = /<Rsn>\s*<Cd>([A-Z0-9]{4})<\/Cd>/.exec(block[1]!)?.[1] ?? '?';
    // The gateway writes "<path>: <message>" across AddtlInf elements of at most 105 characters each.
    const info = [...block[1]!.matchAll(/<AddtlInf>([^<]*)<\/AddtlInf>/g)].map((m) => m[1]).join('');
    const path = /^(\/[^\s:]+):/.exec(info)?.[1];
    return path === undefined ? { code } : { code, path };
  });
  return {
    groupStatus: /<GrpSts>([A-Z]{4})<\/GrpSts>/.exec(xml)?.[1],
    transactionStatuses: [...xml.matchAll(/<TxSts>([A-Z]{4})<\/TxSts>/g)].map((m) => m[1]!),
    reasons,
  };
}

/** The template with new identifiers and a creation time of now, so it is a new message every run. */
export function freshCopy(template: string, now: Date = new Date()): string {
  const messageId = `DEMO${randomUUID().replaceAll('-', '').slice(0, 28)}`;
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  let transaction = 0;
  return template
    .replace(/<MsgId>[^<]*<\/MsgId>/, `<MsgId>${messageId}</MsgId>`)
    .replace(/<BizMsgIdr>[^<]*<\/BizMsgIdr>/, `<BizMsgIdr>${messageId}</BizMsgIdr>`)
    .replace(/<CreDtTm>[^<]*<\/CreDtTm>/, `<CreDtTm>${stamp}</CreDtTm>`)
    .replace(/<CreDt>[^<]*<\/CreDt>/, `<CreDt>${stamp}</CreDt>`)
    .replace(/<IntrBkSttlmDt>[^<]*<\/IntrBkSttlmDt>/g, `<IntrBkSttlmDt>${stamp.slice(0, 10)}</IntrBkSttlmDt>`)
    .replace(/<UETR>[^<]*<\/UETR>/g, () => `<UETR>${randomUUID()}</UETR>`)
    .replace(/<EndToEndId>[^<]*<\/EndToEndId>/g, () => `<EndToEndId>E2E-${messageId.slice(4, 20)}-${(transaction += 1)}</EndToEndId>`)
    .replace(/<TxId>[^<]*<\/TxId>/g, () => `<TxId>TX-${randomUUID().replaceAll('-', '').slice(0, 28)}</TxId>`);
}

/** A one-transaction message for another amount: the transaction's IntrBkSttlmAmt and the CtrlSum agree. */
export function withAmount(xml: string, amount: string): string {
  return withControlSum(xml.replace(/(<IntrBkSttlmAmt Ccy="[A-Z]{3}">)[^<]*(<\/IntrBkSttlmAmt>)/, `$1${amount}$2`), amount);
}

export function withControlSum(xml: string, sum: string): string {
  return xml.replace(/<CtrlSum>[^<]*<\/CtrlSum>/, `<CtrlSum>${sum}</CtrlSum>`);
}

/** `ACSC / ACSC`: the group status, then the transactions' (once each). */
export function statusText(summary: Pacs002Summary): string {
  const tx = [...new Set(summary.transactionStatuses)];
  return `${summary.groupStatus ?? '-'}${tx.length > 0 ? ` / ${tx.join(',')}` : ''}`;
}

/** `AM10 at /Document/…`: each reason code with its element path. */
export function reasonText(summary: Pacs002Summary): string {
  return summary.reasons.map((r) => `${r.code}${r.path === undefined ? '' : ` at ${r.path}`}`).join('; ');
}

/** The decimal text one minor unit more ("12840.00" → "12840.01"). */
export function plusOneMinorUnit(value: string): string {
  const decimals = decimalsOf(value);
  return signed(minorOf(value, decimals) + 1n, decimals).slice(1);
}

/** Digits after the decimal point. */
export function decimalsOf(value: string): number {
  return value.split('.')[1]?.length ?? 0;
}

/** Exact decimal text to minor units with `decimals` digits after the point ("12840.00", 2 → 1284000n). */
export function minorOf(value: string, decimals: number): bigint {
  const [whole = '0', fraction = ''] = value.replace(/^-/, '').split('.');
  const minor = BigInt(whole + fraction.padEnd(decimals, '0').slice(0, decimals));
  return value.startsWith('-') ? -minor : minor;
}

/** Minor units as signed decimal text (`-1284000n`, 2 → `−12840.00`). */
export function signed(minor: bigint, decimals: number): string {
  const digits = (minor < 0n ? -minor : minor).toString().padStart(decimals + 1, '0');
  const text = decimals === 0 ? digits : `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
  return `${minor < 0n ? '−' : '+'}${text}`;
}
