/** The schemas in xsd/ are the unmodified official files: every sha256 in xsd/SOURCES.md matches, and every file is listed. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { XSD } from '../support/fixtures.ts';

const listed = new Map(
  [...readFileSync(`${XSD}SOURCES.md`, 'utf8').matchAll(/^\| `([^`]+\.xsd)` \| \d+ \| `([0-9a-f]{64})` \|$/gm)].map((m) => [m[1], m[2]]),
);

describe('xsd/ provenance', () => {
  const files = readdirSync(XSD).filter((f) => f.endsWith('.xsd')).sort();

  it('lists every schema file, and only those', () => {
    expect([...listed.keys()].sort()).toEqual(files);
    expect(files.filter((f) => f.startsWith('pacs.008'))).toHaveLength(14);
  });

  it.each(files)('%s matches its recorded sha256', (file) => {
    expect(createHash('sha256').update(readFileSync(`${XSD}${file}`)).digest('hex')).toBe(listed.get(file));
  });
});
