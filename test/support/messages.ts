/**
 * Fresh pacs.008 bodies for tests that go through the gateway: the bench fixtures with new identifiers (MsgId,
 * BizMsgIdr, EndToEndId, TxId, UETR) and creation times of "now", so each message is unique and within the age window.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

const TEMPLATES = {
  /** 1 transaction, instructing agent / BAH Fr DEUTDEFFXXX (bank-alpha), in a SWIFT envelope with head.001. */
  alpha1: readFileSync(new URL('../fixtures/bench/pacs008-1tx.xml', import.meta.url), 'utf8'),
  /** 10 transactions, instructing agent / BAH Fr COBADEFFXXX (bank-beta). */
  beta10: readFileSync(new URL('../fixtures/bench/pacs008-10tx.xml', import.meta.url), 'utf8'),
} as const;

export type MessageTemplate = keyof typeof TEMPLATES;

export function freshPacs008(template: MessageTemplate, now: Date = new Date()): { xml: string; messageId: string } {
  const messageId = `T${randomUUID().replaceAll('-', '').slice(0, 30)}`;
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  let transaction = 0;
  const xml = TEMPLATES[template]
    .replace(/<MsgId>[^<]*<\/MsgId>/, `<MsgId>${messageId}</MsgId>`)
    .replace(/<BizMsgIdr>[^<]*<\/BizMsgIdr>/, `<BizMsgIdr>${messageId}</BizMsgIdr>`)
    .replace(/<CreDtTm>[^<]*<\/CreDtTm>/, `<CreDtTm>${stamp}</CreDtTm>`)
    .replace(/<CreDt>[^<]*<\/CreDt>/, `<CreDt>${stamp}</CreDt>`)
    .replace(/<UETR>[^<]*<\/UETR>/g, () => `<UETR>${randomUUID()}</UETR>`)
    .replace(/<EndToEndId>[^<]*<\/EndToEndId>/g, () => `<EndToEndId>E2E-${messageId.slice(1, 20)}-${(transaction += 1)}</EndToEndId>`)
    .replace(/<TxId>[^<]*<\/TxId>/g, () => `<TxId>TX-${randomUUID().replaceAll('-', '').slice(0, 28)}</TxId>`);
  return { xml, messageId };
}
