/**
 * Renders docs/errors.md from the reason catalogue, so the document cannot drift from the code:
 * `npm run docs:errors` writes it and test/unit/error-catalogue.test.ts fails when it is stale.
 */
import { REASONS, type ReasonDefinition } from '../iso20022/index.ts';
import { INTAKE_STATUS } from '../payments/intake.ts';
import { DEFAULT_RATE_LIMIT_POLICIES, RATE_LIMIT_ERRORS } from '../ratelimit/policy.ts';
import { PAYMENTS_READ_ERRORS } from '../routes/payments-read.ts';
import { WEBHOOK_API_ERRORS } from '../routes/webhooks.ts';
import { OAUTH_ERRORS } from '../security/auth-failure.ts';

/** What each intake status means, in the order a request can meet them. */
const INTAKE_STATUS_MEANING: Record<keyof typeof INTAKE_STATUS, { body: string; meaning: string }> = {
  accepted: { body: 'pacs.002 (XML)', meaning: 'Every transaction booked: `ACSC` when both agents are participants (settled at once), `ACSP` when the creditor agent is reached onward (held in suspense); or some (PART; the others RJCT with reasons). A replay of an earlier answer carries `Idempotent-Replayed: true`.' },
  rejected: { body: 'pacs.002 (XML)', meaning: 'The message, or every transaction, failed the XSD, the rules or the ledger (`AM04` insufficient funds, `AM03` no settlement account in the currency): `GrpSts` RJCT with reason codes and element paths.' },
  notEntitled: { body: 'pacs.002 (XML)', meaning: 'The message names a sending BIC (AppHdr/Fr, InstgAgt) the caller is not registered for: RJCT `AGNT` (`SENDER_NOT_ENTITLED`).' },
  duplicate: { body: 'pacs.002 (XML)', meaning: 'The message (instructing agent + MsgId), or every payment in it (UETR, or instructing agent + TxId), was booked before under another Idempotency-Key: RJCT `DUPL` (`DUPLICATE_MESSAGE`, `DUPLICATE_PAYMENT`) naming what was found; nothing is posted again.' },
  keyInFlight: { body: 'JSON `{error: "idempotency_key_in_flight"}` + `Retry-After`', meaning: 'Another request with the same Idempotency-Key and body is still being booked (and the ledger has no answer for that key yet); retry after it finishes to get its answer.' },
  keyReused: { body: 'JSON `{error: "idempotency_key_reused"}`', meaning: 'The Idempotency-Key was used before with a different body (keys are kept for ever in the ledger, 24 h in the Redis fast path).' },
  rateLimited: { body: 'JSON `{error: "rate_limited"}` + `Retry-After` + `RateLimit-Policy`, `RateLimit`', meaning: 'The partner sent more pacs.008 than its intake rate limit allows (see Rate limits below). Checked right after authentication, before the Idempotency-Key and the body: nothing was read or booked; retry the same request (same key) after `Retry-After` seconds.' },
  keyMissing: { body: 'JSON `{error: "idempotency_key_missing"}` or `{error: "idempotency_key_invalid"}`', meaning: 'No Idempotency-Key header, more than one, or one that is empty, longer than 255 characters or not visible ASCII. Checked before the body is read.' },
  unreadable: { body: 'JSON `{error: "unreadable_message", reasons}` or `{error: "incomplete_body"}`', meaning: 'Not a pacs.008 we can identify (not well-formed XML, a DOCTYPE, an unknown namespace; the reasons below say which), or a body that broke off before its end.' },
  bodyTimeout: { body: 'JSON `{error: "body_timeout"}`', meaning: 'The body did not arrive within 10 s.' },
  tooLarge: { body: 'JSON `{error: "payload_too_large"}`', meaning: 'The body exceeds the message size limit (2 MiB by default).' },
  unsupportedMediaType: { body: 'JSON `{error: "unsupported_media_type"}`', meaning: 'Content-Type is not application/xml (or text/xml).' },
  ledgerUnavailable: { body: 'JSON `{error: "ledger_unavailable"}` + `Retry-After`', meaning: 'The ledger could not book the message (database down, timed out); nothing was booked. Retry with the same Idempotency-Key.' },
};

const ROUTE_CLASS_DEFAULTS = (Object.entries(DEFAULT_RATE_LIMIT_POLICIES) as [string, { perSecond: number; burst: number }][])
  .map(([routeClass, policy]) => `${routeClass} ${policy.perSecond}/${policy.burst}`)
  .join(', ');

export function errorCatalogueMarkdown(): string {
  const rows = (Object.entries(REASONS) as [string, ReasonDefinition][]).map(
    ([id, d]) => `| \`${id}\` | \`${d.iso}\` | ${d.scope === 'message' ? 'whole message' : 'one transaction'} | ${d.summary} |`,
  );
  return `# Error catalogue

Generated from \`src/iso20022/reasons.ts\`, \`src/payments/intake.ts\`, \`src/routes/payments-read.ts\`, \`src/routes/webhooks.ts\`, \`src/ratelimit/policy.ts\` and \`src/security/auth-failure.ts\` by \`npm run docs:errors\`; a test fails when this file is stale.

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

## HTTP answers of \`POST /iso20022/pacs.008\`

Authentication comes first (next section); only an authenticated, authorised caller's body is read.

| Status | Body | Meaning |
|---|---|---|
${(Object.entries(INTAKE_STATUS) as [keyof typeof INTAKE_STATUS, number][])
  .map(([name, status]) => `| ${status} | ${INTAKE_STATUS_MEANING[name].body} | ${INTAKE_STATUS_MEANING[name].meaning} |`)
  .join('\n')}

## HTTP answers of the read side (\`GET /payments/{uetr}\`, \`GET /accounts\`, \`GET /accounts/{id}/balance\`)

Authentication comes first (next section), then the \`payments:read\` scope (403 \`insufficient_scope\`
otherwise); only then is the path looked at. Besides 200 (JSON, or the latest pacs.002 as XML when \`Accept\`
names \`application/xml\` or \`text/xml\`), the answers are JSON \`{error, error_description}\`:

| Error | Status | Route | When |
|---|---|---|---|
${(Object.entries(PAYMENTS_READ_ERRORS) as [string, { status: number; route: string; when: string }][])
  .map(([code, e]) => `| \`${code}\` | ${e.status} | \`${e.route}\` | ${e.when} |`)
  .join('\n')}

## HTTP answers of the webhook API (\`/webhooks/…\`, \`GET /payments/{uetr}/webhooks\`)

Authentication comes first (next section), then the scope: \`payments:write\` for every change (POST, PATCH),
\`payments:read\` to look (GET); 403 \`insufficient_scope\` otherwise. Only then are the path, the query and the
body looked at. A partner sees and changes only its own endpoints and their deliveries. Besides the successes
(200; 201 with \`Location\` for a new endpoint; 202 for a redelivery), the answers are JSON
\`{error, error_description}\`:

| Error | Status | Route | When |
|---|---|---|---|
${(Object.entries(WEBHOOK_API_ERRORS) as [string, { status: number; route: string; when: string }][])
  .map(([code, e]) => `| \`${code}\` | ${e.status} | \`${e.route}\` | ${e.when} |`)
  .join('\n')}

## Rate limits (every route)

Each partner (OAuth client) has a request budget per route class — intake (\`POST /iso20022/pacs.008\`), reads
(\`GET /partners/me\`, \`/payments/{uetr}\`, \`/accounts\`, \`/accounts/{id}/balance\`) and the webhook API — shared by
every gateway instance. It is checked right after authentication and the scope, so nobody else can spend a
partner's budget, and before anything else is read. Defaults (requests per second / burst): ${ROUTE_CLASS_DEFAULTS};
\`ISOGW_RATE_LIMIT_<CLASS>_PER_SECOND\` and \`…_BURST\` change them, \`ISOGW_RATE_LIMIT=off\` turns them off.

| Error | Status | Route | When |
|---|---|---|---|
${(Object.entries(RATE_LIMIT_ERRORS) as [string, { status: number; route: string; when: string }][])
  .map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.route} | ${e.when} |`)
  .join('\n')}

## Authentication and authorisation refusals (FAPI 2.0 resource server)

Every protected route answers a refusal with the status below, a \`WWW-Authenticate\` challenge in the scheme the
client used (\`DPoP\` with \`algs="PS256 ES256 EdDSA"\`, or \`Bearer\`; both when the request carried no
credentials, then without an error code as RFC 6750 §3.1 asks), a JSON body \`{error, error_description}\`,
\`Cache-Control: no-store\` and the \`x-fapi-interaction-id\` of the request. Connections without a client
certificate issued by our CA never get this far: the TLS handshake refuses them.

| Error | Status | Defined by | When |
|---|---|---|---|
${(Object.entries(OAUTH_ERRORS) as [string, { status: number; rfc: string; when: string }][])
  .map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.rfc} | ${e.when} |`)
  .join('\n')}
`;
}
