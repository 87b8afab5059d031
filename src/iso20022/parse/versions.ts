/**
 * Which message versions the gateway understands. The namespace of the Document (or AppHdr) picks the
 * version, and with it the official schema; there is no guessing from content.
 */

export const PACS008_VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14] as const;
export const HEAD001_VERSIONS = [1, 2, 3, 4] as const;

const NAMESPACE_PREFIX = 'urn:iso:std:iso:20022:tech:xsd:';
const VERSIONED_ID = /^([a-z]{4})\.(\d{3})\.(\d{3})\.(\d{2})$/;

export interface MessageId {
  /** e.g. `pacs.008.001.08` */
  readonly id: string;
  readonly area: string;
  readonly type: string;
  readonly variant: string;
  readonly version: number;
}

/** Reads `urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08` as a message identifier; `undefined` if not ISO. */
export function messageIdFromNamespace(namespace: string): MessageId | undefined {
  if (!namespace.startsWith(NAMESPACE_PREFIX)) return undefined;
  const id = namespace.slice(NAMESPACE_PREFIX.length);
  const match = VERSIONED_ID.exec(id);
  if (match === null) return undefined;
  const [, area = '', type = '', variant = '', version = ''] = match;
  return { id, area, type, variant, version: Number(version) };
}

export function namespaceOf(messageId: string): string {
  return `${NAMESPACE_PREFIX}${messageId}`;
}

export function pacs008Version(namespace: string): number | undefined {
  const id = messageIdFromNamespace(namespace);
  if (id === undefined || id.area !== 'pacs' || id.type !== '008' || id.variant !== '001') return undefined;
  return (PACS008_VERSIONS as readonly number[]).includes(id.version) ? id.version : undefined;
}

export function head001Version(namespace: string): number | undefined {
  const id = messageIdFromNamespace(namespace);
  if (id === undefined || id.area !== 'head' || id.type !== '001' || id.variant !== '001') return undefined;
  return (HEAD001_VERSIONS as readonly number[]).includes(id.version) ? id.version : undefined;
}

/** `8` → `pacs.008.001.08`. */
export function pacs008MessageType(version: number): string {
  return `pacs.008.001.${String(version).padStart(2, '0')}`;
}

/** File name of the official schema for a message id, as shipped in `xsd/`. */
export function schemaFileName(messageId: string): string {
  return `${messageId}.xsd`;
}
