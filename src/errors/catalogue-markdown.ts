/**
 * Renders docs/errors.md from the reason catalogue, so the document cannot drift from the code:
 * `npm run docs:errors` writes it and test/unit/error-catalogue.test.ts fails when it is stale.
 */
import { REASONS, type ReasonDefinition } from '../iso20022/index.ts';

export function errorCatalogueMarkdown(): string {
  const rows = (Object.entries(REASONS) as [string, ReasonDefinition][]).map(
    ([id, d]) => `| \`${id}\` | \`${d.iso}\` | ${d.scope === 'message' ? 'whole message' : 'one transaction'} | ${d.summary} |`,
  );
  return `# Error catalogue

Generated from \`src/iso20022/reasons.ts\` by \`npm run docs:errors\`; a test fails when this file is stale.

Every rejection of a pacs.008 carries a stable **rule id** (what to switch on), the ISO 20022
**ExternalStatusReason1Code** that goes into the pacs.002 (\`StsRsnInf/Rsn/Cd\`), and the **element path** of
the offending element (in \`AddtlInf\` of the pacs.002 and in \`isogw validate\` output). A reason that
rejects the *whole message* gives the pacs.002 group status \`RJCT\`; a reason that rejects *one transaction*
rejects only that transaction, and the group status is \`PART\` when others pass.

Input that cannot be identified as a pacs.008 at all (the first rows, status "whole message", no
\`GrpHdr/MsgId\` to answer to) gets no pacs.002: \`isogw validate\` reports it with \`messageType: null\`.

| Rule id | ISO code | Rejects | Meaning |
|---|---|---|---|
${rows.join('\n')}
`;
}
