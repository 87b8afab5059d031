/**
 * Checks on the raw bytes before any XML parser sees them: size, encoding and DOCTYPE.
 *
 * Refusing a DOCTYPE outright is the whole defence against entity expansion ("billion laughs") and external
 * entities (XXE): ISO 20022 messages never carry one, so there is nothing to configure and nothing to expand.
 * A DOCTYPE may only stand in the prolog, so scanning the prolog is enough; one anywhere else is not
 * well-formed and the parser rejects it.
 */
import { reason, type Reason } from '../reasons.ts';

const LT = 0x3c;
const BOM_UTF8 = [0xef, 0xbb, 0xbf] as const;

/** Returns the byte offset after an optional UTF-8 BOM, or a reason if the bytes are UTF-16/32. */
function skipBom(bytes: Uint8Array): number | Reason {
  if (bytes[0] === BOM_UTF8[0] && bytes[1] === BOM_UTF8[1] && bytes[2] === BOM_UTF8[2]) return 3;
  const b0 = bytes[0];
  const b1 = bytes[1];
  if ((b0 === 0xfe && b1 === 0xff) || (b0 === 0xff && b1 === 0xfe) || (b0 === 0x00 && b1 === 0x00)) {
    return reason('XML_ENCODING_UNSUPPORTED', '/', 'The message starts with a UTF-16 or UTF-32 byte order mark; send UTF-8.');
  }
  // UTF-16 without a BOM starts "<\0" or "\0<".
  if ((b0 === LT && b1 === 0x00) || (b0 === 0x00 && b1 === LT)) {
    return reason('XML_ENCODING_UNSUPPORTED', '/', 'The message looks like UTF-16; send UTF-8.');
  }
  return 0;
}

function startsWith(bytes: Uint8Array, at: number, ascii: string): boolean {
  if (at + ascii.length > bytes.length) return false;
  for (let i = 0; i < ascii.length; i++) if (bytes[at + i] !== ascii.charCodeAt(i)) return false;
  return true;
}

function indexOfAscii(bytes: Uint8Array, ascii: string, from: number): number {
  const first = ascii.charCodeAt(0);
  for (let i = from; i <= bytes.length - ascii.length; i++) {
    if (bytes[i] === first && startsWith(bytes, i, ascii)) return i;
  }
  return -1;
}

const ENCODING_DECL = /encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/;

/**
 * Validates the prolog. Returns the offset of the first byte after the BOM (so the parser can be handed the
 * rest), or the reason the message is refused.
 */
export function guardXmlBytes(bytes: Uint8Array, messageBytesMax: number): { start: number } | Reason {
  if (bytes.length > messageBytesMax) {
    return reason('MESSAGE_TOO_LARGE', '/', `The message is ${bytes.length} bytes; the limit is ${messageBytesMax} bytes.`);
  }
  const bom = skipBom(bytes);
  if (typeof bom !== 'number') return bom;
  let at = bom;
  // Walk the prolog: XML declaration, whitespace, comments and processing instructions, up to the first element.
  for (;;) {
    while (at < bytes.length && (bytes[at] === 0x20 || bytes[at] === 0x09 || bytes[at] === 0x0a || bytes[at] === 0x0d)) at++;
    if (at >= bytes.length) return reason('XML_NOT_WELL_FORMED', '/', 'The message has no root element.');
    if (startsWith(bytes, at, '<?')) {
      const end = indexOfAscii(bytes, '?>', at + 2);
      if (end < 0) return reason('XML_NOT_WELL_FORMED', '/', 'Unterminated processing instruction in the prolog.');
      if (startsWith(bytes, at, '<?xml ') || startsWith(bytes, at, '<?xml\t') || startsWith(bytes, at, '<?xml\n') || startsWith(bytes, at, '<?xml\r')) {
        const declaration = new TextDecoder('latin1').decode(bytes.subarray(at, end));
        const encoding = ENCODING_DECL.exec(declaration)?.[1];
        if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) {
          return reason('XML_ENCODING_UNSUPPORTED', '/', `The XML declaration says encoding="${encoding}"; ISO 20022 XML is UTF-8.`);
        }
      }
      at = end + 2;
    } else if (startsWith(bytes, at, '<!--')) {
      const end = indexOfAscii(bytes, '-->', at + 4);
      if (end < 0) return reason('XML_NOT_WELL_FORMED', '/', 'Unterminated comment in the prolog.');
      at = end + 3;
    } else if (startsWith(bytes, at, '<!')) {
      return reason('XML_DOCTYPE_FORBIDDEN', '/', 'DOCTYPE declarations are not accepted (no DTDs, no entities).');
    } else {
      return { start: bom };
    }
  }
}
