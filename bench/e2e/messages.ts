/**
 * Unique pacs.008 bodies at load-generator speed. The bench fixtures (test/fixtures/bench: 1 transaction, 3.9 KB;
 * 10 transactions, 15.8 KB; SWIFT envelope + head.001 AppHdr) are cut once into fixed text and slots; a message is
 * the fixed text joined with fresh slot values — no regular expression per message. Every message gets a new MsgId
 * (= BizMsgIdr), a creation time of "now", and per transaction a new UETR, EndToEndId and TxId, so nothing the
 * gateway deduplicates on repeats; the sender's BIC (AppHdr Fr, InstgAgt, DbtrAgt) becomes the sending bench bank's,
 * and the creditor agent (with the AppHdr To and InstdAgt where the fixture names the same bank) is either a participant (settled on us, ACSC) or a non-participant (held, ACSP).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const BODY_KINDS = ['1tx', '10tx'] as const;
export type BodyKind = (typeof BODY_KINDS)[number];

/** A creditor agent that is no participant: the payment goes onward and is held in suspense (ACSP). */
export const ONWARD_CREDITOR_BIC = 'NWBKGB2LXXX';

const FIXTURES: Record<BodyKind, { readonly file: URL; readonly sender: string; readonly creditor: string; readonly transactions: number }> = {
  '1tx': { file: new URL('../../test/fixtures/bench/pacs008-1tx.xml', import.meta.url), sender: 'DEUTDEFFXXX', creditor: 'NWBKGB2LXXX', transactions: 1 },
  '10tx': { file: new URL('../../test/fixtures/bench/pacs008-10tx.xml', import.meta.url), sender: 'COBADEFFXXX', creditor: 'ABNANL2AXXX', transactions: 10 },
};

/**
 * MsgIds say how many transactions they carry (`E2EA…` one, `E2EK…` ten), so a response's OrgnlMsgId alone tells
 * the harness how many payments an accepted message booked.
 */
const KIND_MARK: Record<BodyKind, string> = { '1tx': 'A', '10tx': 'K' };
export const MSG_ID_PREFIX = 'E2E';

export function transactionsOfMsgId(msgId: string): number | undefined {
  if (!msgId.startsWith(MSG_ID_PREFIX)) return undefined;
  const mark = msgId[MSG_ID_PREFIX.length];
  return mark === 'A' ? 1 : mark === 'K' ? 10 : undefined;
}

type Slot = 'msgId' | 'stamp' | 'sender' | 'creditor' | 'uetr' | 'endToEndId' | 'txId';

export interface MessageTemplate {
  readonly kind: BodyKind;
  readonly transactions: number;
  /** Fixed text; `slots[i]` goes between `parts[i]` and `parts[i + 1]`. */
  readonly parts: readonly string[];
  readonly slots: readonly Slot[];
}

export function compileTemplate(kind: BodyKind, text: string = readFileSync(FIXTURES[kind].file, 'utf8')): MessageTemplate {
  const { sender, creditor, transactions } = FIXTURES[kind];
  const pattern = new RegExp(
    [
      '(<MsgId>)[^<]*(</MsgId>)',
      '(<BizMsgIdr>)[^<]*(</BizMsgIdr>)',
      '(<CreDtTm>)[^<]*(</CreDtTm>)',
      '(<CreDt>)[^<]*(</CreDt>)',
      `(<BICFI>)${sender}(</BICFI>)`,
      `(<BICFI>)${creditor}(</BICFI>)`,
      '(<UETR>)[^<]*(</UETR>)',
      '(<EndToEndId>)[^<]*(</EndToEndId>)',
      '(<TxId>)[^<]*(</TxId>)',
    ].join('|'),
    'g',
  );
  const slotOf = (open: string, close: string, match: string): Slot => {
    if (open === '<MsgId>' || open === '<BizMsgIdr>') return 'msgId';
    if (open === '<CreDtTm>' || open === '<CreDt>') return 'stamp';
    if (open === '<BICFI>') return match.includes(sender) ? 'sender' : 'creditor';
    if (open === '<UETR>') return 'uetr';
    if (open === '<EndToEndId>') return 'endToEndId';
    if (open === '<TxId>' && close === '</TxId>') return 'txId';
    throw new Error(`unexpected slot ${open}`);
  };
  const parts: string[] = [];
  const slots: Slot[] = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const groups = match.slice(1).filter((g) => g !== undefined);
    const [open, close] = [groups[0]!, groups[1]!];
    parts.push(text.slice(last, match.index) + open);
    slots.push(slotOf(open, close, match[0]));
    last = match.index + match[0].length - close.length;
  }
  parts.push(text.slice(last));
  const count = (slot: Slot) => slots.filter((s) => s === slot).length;
  // The fixture must have what we replace, once per transaction where it is per transaction: else messages repeat.
  if (count('msgId') !== 2 || count('stamp') !== 2 || count('sender') < 2 || count('creditor') < transactions) {
    throw new Error(`template ${kind}: unexpected shape (${slots.join(',')})`);
  }
  for (const slot of ['uetr', 'endToEndId', 'txId'] as const) {
    if (count(slot) !== transactions) throw new Error(`template ${kind}: ${count(slot)} ${slot} for ${transactions} transactions`);
  }
  return { kind, transactions, parts, slots };
}

export interface RenderedMessage {
  readonly xml: string;
  readonly msgId: string;
  readonly uetrs: readonly string[];
}

/** A fresh, unique message of `template`'s shape from `senderBic` to `creditorBic`. */
export function renderMessage(template: MessageTemplate, senderBic: string, creditorBic: string, now: Date = new Date()): RenderedMessage {
  const hex = randomUUID().replaceAll('-', '');
  const msgId = `${MSG_ID_PREFIX}${KIND_MARK[template.kind]}${hex.slice(0, 30)}`;
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const uetrs: string[] = [];
  let e2e = 0;
  let out = template.parts[0]!;
  for (let i = 0; i < template.slots.length; i++) {
    let value: string;
    switch (template.slots[i]!) {
      case 'msgId':
        value = msgId;
        break;
      case 'stamp':
        value = stamp;
        break;
      case 'sender':
        value = senderBic;
        break;
      case 'creditor':
        value = creditorBic;
        break;
      case 'uetr':
        value = randomUUID();
        uetrs.push(value);
        break;
      case 'endToEndId':
        value = `E2E-${hex.slice(0, 24)}-${(e2e += 1)}`;
        break;
      case 'txId':
        value = `TX${randomUUID().replaceAll('-', '')}`;
        break;
    }
    out += value + template.parts[i + 1]!;
  }
  return { xml: out, msgId, uetrs };
}
