import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorCatalogueMarkdown } from '../../src/errors/catalogue-markdown.ts';
import { REASONS } from '../../src/iso20022/index.ts';

describe('the error catalogue', () => {
  it('docs/errors.md is what the catalogue renders (run `npm run docs:errors` after changing a reason)', () => {
    expect(readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')).toBe(errorCatalogueMarkdown());
  });

  it('uses only ISO ExternalStatusReason1Codes from the published code set', () => {
    const codes = JSON.parse(readFileSync(new URL('../fixtures/external_status_reason_code.json', import.meta.url), 'utf8')).codes;
    for (const [id, definition] of Object.entries(REASONS)) expect(codes[definition.iso], id).toBeTypeOf('string');
  });
});
