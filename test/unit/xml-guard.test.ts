import { describe, expect, it } from 'vitest';
import { guardXmlBytes } from '../../src/iso20022/parse/xml-guard.ts';

const bytes = (s: string) => Buffer.from(s);
const LIMIT = 1024;

describe('the byte guard in front of the XML parser', () => {
  it('passes a plain document and reports where it starts', () => {
    expect(guardXmlBytes(bytes('<?xml version="1.0" encoding="UTF-8"?><Document/>'), LIMIT)).toEqual({ start: 0 });
  });

  it('skips a UTF-8 byte order mark', () => {
    expect(guardXmlBytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes('<Document/>')]), LIMIT)).toEqual({ start: 3 });
  });

  it('lets comments and processing instructions stand in the prolog', () => {
    expect(guardXmlBytes(bytes('<?xml version="1.0"?>\n<!-- a <!DOCTYPE in a comment is text -->\n<?pi x?>\n<Document/>'), LIMIT)).toEqual({ start: 0 });
  });

  it('refuses a DOCTYPE, even after comments', () => {
    const result = guardXmlBytes(bytes('<?xml version="1.0"?><!-- x --><!DOCTYPE d [<!ENTITY e "x">]><Document/>'), LIMIT);
    expect(result).toMatchObject({ id: 'XML_DOCTYPE_FORBIDDEN', code: 'FF01' });
  });

  it('refuses a message over the byte limit before looking at it', () => {
    expect(guardXmlBytes(new Uint8Array(LIMIT + 1), LIMIT)).toMatchObject({ id: 'MESSAGE_TOO_LARGE', code: 'FF01' });
  });

  it('refuses UTF-16 with or without a byte order mark, and a declared non-UTF-8 encoding', () => {
    expect(guardXmlBytes(Buffer.from([0xff, 0xfe, 0x3c, 0x00]), LIMIT)).toMatchObject({ id: 'XML_ENCODING_UNSUPPORTED' });
    expect(guardXmlBytes(Buffer.from([0x3c, 0x00, 0x3f, 0x00]), LIMIT)).toMatchObject({ id: 'XML_ENCODING_UNSUPPORTED' });
    expect(guardXmlBytes(bytes('<?xml version="1.0" encoding="windows-1252"?><a/>'), LIMIT)).toMatchObject({ id: 'XML_ENCODING_UNSUPPORTED' });
    expect(guardXmlBytes(bytes('<?xml version="1.0" encoding="utf8"?><a/>'), LIMIT)).toEqual({ start: 0 });
  });

  it('refuses empty input and unterminated prolog constructs', () => {
    expect(guardXmlBytes(bytes('   '), LIMIT)).toMatchObject({ id: 'XML_NOT_WELL_FORMED' });
    expect(guardXmlBytes(bytes('<!-- never closed'), LIMIT)).toMatchObject({ id: 'XML_NOT_WELL_FORMED' });
    expect(guardXmlBytes(bytes('<?xml version="1.0"'), LIMIT)).toMatchObject({ id: 'XML_NOT_WELL_FORMED' });
  });
});
