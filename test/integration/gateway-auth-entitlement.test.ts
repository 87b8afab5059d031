/**
 * After authentication: what the caller may do. The intake needs the payments:write scope (RFC 6750 §3.1
 * insufficient_scope), and a partner may only send for its own BICs (a pacs.002 RJCT with reason AGNT names the
 * element that betrays the foreign sender). `GET /partners/me` needs a valid token and no scope.
 *
 * Every refusal starts from `validDpopRequest` (bank-alpha, its own connection, a DPoP-bound token with both
 * scopes, a proof for exactly this request) and changes one thing.
 *
 * Nothing refused here may be processed: the answer is an OAuth error or a pacs.002 that rejects the whole message,
 * and the ledger (messages, payments, entries, outbox) is unchanged afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  expectAccepted,
  expectLedgerUntouched,
  expectRefused,
  ledgerSnapshot,
  type Matrix,
  readPacs002,
  sendMatrix,
  startMatrix,
  UUID,
  validCertificateBoundRequest,
  validDpopRequest,
} from '../support/auth-matrix.ts';
import type { GatewayAnswer } from '../support/gateway.ts';
import { freshPacs008 } from '../support/messages.ts';

let matrix: Matrix;

beforeAll(async () => {
  matrix = await startMatrix();
});

afterAll(async () => {
  await matrix?.close();
});

describe('RFC 6750 §3.1: the payments:write scope', () => {
  it('accepts bank-alpha’s pacs.008 from its own BIC with a token carrying payments:write (positive control)', async () => {
    const { request } = await validDpopRequest(matrix);
    expectAccepted(await sendMatrix(request));
  });

  it('refuses a POST with a token that carries only payments:read with 403 insufficient_scope naming payments:write', async () => {
    const before = await ledgerSnapshot(matrix);
    const { request } = await validDpopRequest(matrix, { tokenClaims: { scope: 'payments:read' } });
    const answer = await sendMatrix(request);
    await expectLedgerUntouched(matrix, before);
    expectRefused(answer, { status: 403, error: 'insufficient_scope', scheme: 'DPoP', because: 'payments:write' });
    expect(answer.headers['www-authenticate']).toContain('scope="payments:write"');
  });

  it('refuses a POST with a token that carries no scope at all with 403 insufficient_scope', async () => {
    const { request } = await validDpopRequest(matrix, { tokenClaims: { scope: undefined } });
    expectRefused(await sendMatrix(request), { status: 403, error: 'insufficient_scope', scheme: 'DPoP', because: 'payments:write' });
  });

  it('refuses a POST from bank-gamma, a read-only partner, with 403 insufficient_scope', async () => {
    const { request } = await validDpopRequest(matrix, { partner: 'bank-gamma' });
    expectRefused(await sendMatrix(request), { status: 403, error: 'insufficient_scope', scheme: 'DPoP', because: 'payments:write' });
  });

  it('names the scope in the Bearer challenge for a certificate-bound token without payments:write', async () => {
    const { request } = await validCertificateBoundRequest(matrix, { tokenClaims: { scope: 'payments:read' } });
    const answer = await sendMatrix(request);
    expectRefused(answer, { status: 403, error: 'insufficient_scope', scheme: 'Bearer', because: 'payments:write' });
    expect(answer.headers['www-authenticate']).toContain('scope="payments:write"');
  });
});

describe('BIC entitlement: a partner sends only for its own BICs', () => {
  it('answers bank-alpha posting bank-beta’s message (AppHdr Fr and InstgAgt COBADEFFXXX) with 403 and a pacs.002 RJCT AGNT naming AppHdr/Fr', async () => {
    const before = await ledgerSnapshot(matrix);
    const { request } = await validDpopRequest(matrix, { body: freshPacs008('beta10').xml });
    const answer = await sendMatrix(request);
    await expectLedgerUntouched(matrix, before);

    expectEntitlementRefusal(answer);
    const report = readPacs002(answer.body);
    // AddtlInf is Max105Text, so a long reason arrives in pieces.
    expect(report.additionalInformation.join('')).toBe('/AppHdr/Fr/FIId/FinInstnId: COBADEFFXXX is not a BIC this partner may send for');
  });

  it('answers bank-alpha’s own message whose transaction names COBADEFFXXX as InstgAgt with 403 and AGNT naming that InstgAgt', async () => {
    const xml = freshPacs008('alpha1').xml.replace(/(<InstgAgt>\s*<FinInstnId>\s*<BICFI>)DEUTDEFFXXX/, '$1COBADEFFXXX');
    expect(xml).toContain('COBADEFFXXX');
    const before = await ledgerSnapshot(matrix);
    const { request } = await validDpopRequest(matrix, { body: xml });
    const answer = await sendMatrix(request);
    await expectLedgerUntouched(matrix, before);

    expectEntitlementRefusal(answer);
    expect(readPacs002(answer.body).additionalInformation.join('')).toBe(
      '/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]/InstgAgt/FinInstnId: COBADEFFXXX is not a BIC this partner may send for',
    );
  });
});

/** 403 with a pacs.002 that rejects the whole message for AGNT: refused after reading, and nothing accepted. */
function expectEntitlementRefusal(answer: GatewayAnswer): void {
  expect(answer.status).toBe(403);
  expect(String(answer.headers['content-type'])).toMatch(/^application\/xml\b/);
  expect(answer.headers['cache-control']).toBe('no-store');
  expect(Number.isNaN(Date.parse(String(answer.headers.date)))).toBe(false);
  expect(String(answer.headers['x-fapi-interaction-id'])).toMatch(UUID);
  const report = readPacs002(answer.body);
  expect(report.groupStatus).toBe('RJCT');
  expect(report.transactionStatuses.filter((status) => status !== 'RJCT')).toEqual([]);
  expect(report.reasonCodes).toEqual(['AGNT']);
}

describe('GET /partners/me', () => {
  it('answers bank-alpha with its BICs, scopes and DPoP binding', async () => {
    const { request } = await validDpopRequest(matrix, { method: 'GET' });
    const answer = await sendMatrix(request);
    expect(answer.status).toBe(200);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(answer.body)).toEqual({
      clientId: 'bank-alpha',
      name: 'Alpha Bank AG',
      bics: ['DEUTDEFFXXX'],
      scopes: ['payments:write', 'payments:read'],
      binding: 'dpop',
    });
  });

  it('answers bank-beta with its BIC and certificate binding', async () => {
    const { request } = await validCertificateBoundRequest(matrix, { method: 'GET' });
    const answer = await sendMatrix(request);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ clientId: 'bank-beta', bics: ['COBADEFFXXX'], binding: 'mtls' });
  });

  it('answers bank-gamma, whose token carries only payments:read: the check needs no scope', async () => {
    const { request } = await validDpopRequest(matrix, { partner: 'bank-gamma', method: 'GET' });
    const answer = await sendMatrix(request);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ clientId: 'bank-gamma', bics: ['ABNANL2AXXX'], scopes: ['payments:read'] });
  });

  it('refuses a request without Authorization with 401 and both challenges', async () => {
    const { request } = await validDpopRequest(matrix, { method: 'GET', headers: { authorization: undefined } });
    expectRefused(await sendMatrix(request), { status: 401, scheme: 'both' });
  });
});
