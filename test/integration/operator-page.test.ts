/**
 * The operator's page (issue 7 §6) on a real gateway's operations listener, driven by headless Chromium: an operator
 * logs in with the operator token, finds a payment that went through the gateway (mTLS + DPoP, booked, held, then
 * settled), opens it and sees its status history, its webhook deliveries with every attempt, and its pacs.002; sees
 * the endpoints, the dead letters and the balances; and a screenshot proves the page really renders. Values from the
 * database are hostile where we can make them so (a participant's name, an endpoint's description, the pacs.002
 * itself): they must show as text and never run. Refusals: no token, a wrong token, a forged session, a write
 * method, a cross-site login, and no operator token configured at all.
 */
import { createHash } from 'node:crypto';

import { type Browser, chromium, type Page } from 'playwright-core';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startOpsListener } from '../../src/observability/ops-listener.ts';
import { sendMatrix, startMatrix, type Matrix, validDpopRequest } from '../support/auth-matrix.ts';
import { callApi, expectJson, relayUntil, testRelay, type TestRelay } from '../support/webhook-api.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { settle } from '../support/webhook-relay.ts';

const TOKEN = 'operator-token-for-tests-0123456789abcdefghijklmnopqrstuv';
const TOKEN_SHA256 = createHash('sha256').update(TOKEN).digest();
const HOSTILE = `<script>document.title='pwned'</script><img src=x onerror="document.title='pwned'">&amp;`;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let matrix: Matrix;
let opsUrl: string;
let relay: TestRelay;
let receivers: WebhookReceiver[] = [];
let browser: Browser;
let uetr: string;
let msgId: string;

beforeAll(async () => {
  matrix = await startMatrix({ operations: { host: '127.0.0.1', port: 0, operatorTokenSha256: TOKEN_SHA256 } });
  if (matrix.gateway.opsUrl === undefined) throw new Error('the operations listener did not start');
  opsUrl = matrix.gateway.opsUrl;
  const pool = matrix.gateway.database.pool;
  await pool.query(`insert into participants (bic, name) values ('EVILDEFFXXX', $1)`, [HOSTILE]);

  // Two endpoints of bank-alpha: one that takes every event, one that fails so its deliveries are dead letters.
  const good = await startWebhookReceiver();
  const failing = await startWebhookReceiver({ behaviour: () => ({ status: 500, body: HOSTILE }) });
  receivers = [good, failing];
  const created = expectJson(await callApi(matrix, 'bank-alpha', 'POST', '/webhooks/endpoints', { body: { url: good.url, description: HOSTILE } }), 201);
  good.setSecrets([created.signing.secret]);
  expectJson(await callApi(matrix, 'bank-alpha', 'POST', '/webhooks/endpoints', { body: { url: failing.url } }), 201);

  // A payment through the real gateway: bank-alpha → BNPAFRPP goes onward (held, ACSP), then the onward leg settles.
  const sent = await validDpopRequest(matrix);
  const answer = await sendMatrix(sent.request);
  expect(answer.status, answer.body).toBe(200);
  uetr = /<UETR>([^<]+)<\/UETR>/.exec(sent.request.body!)![1]!;
  msgId = /<MsgId>([^<]+)<\/MsgId>/.exec(sent.request.body!)![1]!;
  await settle(pool, uetr);

  // No retry steps: the failing endpoint's deliveries die at their first attempt.
  relay = testRelay(matrix.gateway, { retryScheduleMs: [] });
  await relayUntil(relay, async () => {
    const { rows } = await pool.query<{ open: number }>(`select count(*)::int as open from webhook_deliveries where state in ('pending', 'in_flight')`);
    const { rows: all } = await pool.query<{ n: number }>(`select count(*)::int as n from webhook_deliveries`);
    return rows[0]!.open === 0 && all[0]!.n === 6;
  }).catch(async (error: unknown) => {
    const { rows } = await pool.query(`select d.state, d.sequence, d.last_status, d.last_error, d.endpoint_id from webhook_deliveries d`);
    const { rows: outbox } = await pool.query(`select * from outbox`);
    throw new Error(`${(error as Error).message}: ${JSON.stringify({ rows, outbox })}`);
  });

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await relay?.close();
  await Promise.allSettled(receivers.map((receiver) => receiver.close()));
  await matrix?.close();
});

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const response = await request(`${opsUrl}${path}`, { headers });
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
}

async function loggedInPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const first = await page.goto(`${opsUrl}/ops/payments`);
  expect(first?.status()).toBe(401);
  await page.fill('#token', TOKEN);
  const [login] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${opsUrl}/ops/login` && r.request().method() === 'POST'),
    page.click('button[type=submit]'),
  ]);
  expect(login.status()).toBe(303);
  await page.waitForLoadState();
  expect(page.url()).toBe(`${opsUrl}/ops/payments`);
  return page;
}

/** Decodes the PNG in Chromium (a blank page has no CSP) and measures it: size, distinct colours, luminance spread. */
async function measurePng(page: Page, png: Buffer): Promise<{ width: number; height: number; colours: number; stddev: number }> {
  await page.goto('about:blank');
  return page.evaluate(async (dataUrl) => {
    // Runs in the browser: the DOM types are not in this project's lib.
    const window = globalThis as any;
    const document = window.document;
    const image = new window.Image();
    image.src = dataUrl;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const data: Uint8ClampedArray = context.getImageData(0, 0, image.width, image.height).data;
    const colours = new Set<number>();
    let sum = 0;
    let squares = 0;
    const pixels = data.length / 4;
    for (let i = 0; i < data.length; i += 4) {
      colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
      const luminance = 0.2126 * data[i]! + 0.7152 * data[i + 1]! + 0.0722 * data[i + 2]!;
      sum += luminance;
      squares += luminance * luminance;
    }
    const mean = sum / pixels;
    return { width: image.width, height: image.height, colours: colours.size, stddev: Math.sqrt(squares / pixels - mean * mean) };
  }, `data:image/png;base64,${png.toString('base64')}`);
}

describe('the operator page in Chromium', () => {
  it('logs in, finds the payment, shows its history, deliveries with attempts and pacs.002, endpoints, dead letters and balances', async () => {
    const page = await loggedInPage();
    const cookies = await page.context().cookies();
    const session = cookies.find((cookie) => cookie.name === 'isogw_operator');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/ops' });

    // The list: the payment, newest first, with its exact amount and route.
    const row = page.locator('#payments tbody tr', { hasText: uetr });
    await expect(row.count()).resolves.toBe(1);
    const rowText = await row.innerText();
    expect(rowText).toContain(msgId);
    expect(rowText).toContain('ACSC');
    expect(rowText).toMatch(/48732\.65 EUR|\d+\.\d{2} EUR/);
    expect(rowText).toContain('onward');
    expect(rowText).toContain('DEUTDEFFXXX');

    // Filters: by MsgId finds it, by another status does not.
    await page.goto(`${opsUrl}/ops/payments?msgId=${msgId}`);
    await expect(page.locator('#payments tbody tr', { hasText: uetr }).count()).resolves.toBe(1);
    await page.goto(`${opsUrl}/ops/payments?status=RJCT&bic=DEUTDEFF`);
    await expect(page.locator('#payments tbody tr', { hasText: uetr }).count()).resolves.toBe(0);
    await page.goto(`${opsUrl}/ops/payments?bic=DEUTDEFF`);

    // Its page: history ACSP (held, with its entry) then ACSC; two deliveries per event; the pacs.002 as text.
    await Promise.all([page.waitForURL(`${opsUrl}/ops/payments/${uetr}`), page.click(`a[href="/ops/payments/${uetr}"]`)]);
    const history = await page.locator('#history tbody tr').allInnerTexts();
    expect(history.map((line) => line.split('\t')[1])).toEqual(['RCVD', 'ACSP', 'ACSC']);
    // Received moves no money; the hold and its posting each name their journal entry.
    expect(history.map((line) => line.split('\t')[4])).toEqual(['—', expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+$/)]);
    const deliveries = page.locator('section.delivery');
    await expect(deliveries.count()).resolves.toBe(6);
    const delivered = page.locator('section.delivery', { has: page.locator('.status-delivered') });
    await expect(delivered.count()).resolves.toBe(3);
    expect(await delivered.first().locator('table.attempts tbody tr').first().innerText()).toMatch(/1\tdelivered\t200/);
    const dead = page.locator('section.delivery', { has: page.locator('.status-dead') });
    await expect(dead.count()).resolves.toBe(3);
    const deadAttempt = dead.first().locator('table.attempts tbody tr').first();
    expect(await deadAttempt.innerText()).toMatch(/1\tdead\t500/);
    // The failing endpoint's own answer, recorded as the error: shown as text.
    expect(await deadAttempt.locator('td.error').innerText()).toBe(`HTTP 500: ${HOSTILE}`);
    const pacs002 = await page.locator('#pacs002').innerText();
    expect(pacs002).toContain('FIToFIPmtStsRpt');
    expect(pacs002).toContain(uetr);
    await expect(page.locator('#pacs002 *').count()).resolves.toBe(0); // text, not markup
    // The README's picture, refreshed only on request so that running the tests leaves the working tree alone.
    if (process.env.ISOGW_UPDATE_SCREENSHOTS === '1') await page.screenshot({ path: 'docs/operator-page.png' });

    // Webhooks: both endpoints with their counts, and the two dead letters of this payment.
    await page.click('header nav a[href="/ops/webhooks"]');
    await page.waitForURL(`${opsUrl}/ops/webhooks`);
    const endpoints = await page.locator('#endpoints tbody tr').allInnerTexts();
    expect(endpoints).toHaveLength(2);
    expect(endpoints.map((line) => line.split('\t').slice(4, 6).join('/')).sort()).toEqual(['0/0', '0/3']);
    await expect(page.locator('#dead-letters tbody tr', { hasText: uetr }).count()).resolves.toBe(3);
    // One endpoint's page shows the hostile description as text.
    await page.locator('#endpoints tbody tr', { hasText: '0\t0' }).locator('a').first().click();
    await page.waitForURL(/\/ops\/webhooks\/endpoints\//);
    expect(await page.locator('dl.facts').innerText()).toContain(HOSTILE);

    // Balances: every account, exact decimals, the sums per currency zero, participants — hostile name as text.
    await page.click('header nav a[href="/ops/balances"]');
    await page.waitForURL(`${opsUrl}/ops/balances`);
    const accounts = await page.locator('#accounts tbody tr').allInnerTexts();
    expect(accounts.some((line) => /DEUTDEFFXXX\tBank Alpha\tsettlement\t\d+\.\d{2}\tEUR/.test(line))).toBe(true);
    expect(accounts.some((line) => /gateway\t\tsuspense\t/.test(line))).toBe(true);
    expect(await page.locator('#sums tbody').innerText()).toMatch(/EUR\t0\.00/);
    expect(await page.locator('#participants').innerText()).toContain(HOSTILE);
    await expect(page.locator('script, img').count()).resolves.toBe(0);
    expect(await page.title()).not.toBe('pwned');

    // The screenshot renders: a PNG that decodes to the viewport, with real content (not one flat colour).
    const png = await page.screenshot();
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    expect(png.length).toBeGreaterThan(10_000);
    const box = await page.locator('#accounts').boundingBox();
    expect(box?.width).toBeGreaterThan(600);
    expect(box?.height).toBeGreaterThan(100);
    const measured = await measurePng(page, png);
    expect(measured).toMatchObject({ width: 1280, height: 860 });
    expect(measured.colours).toBeGreaterThan(50);
    expect(measured.stddev).toBeGreaterThan(10);

    // Logging out ends the session in this browser.
    await page.goto(`${opsUrl}/ops/balances`);
    await Promise.all([page.waitForURL(`${opsUrl}/ops/login`), page.click('header form button')]);
    expect((await page.goto(`${opsUrl}/ops/balances`))?.status()).toBe(401);
    await page.context().close();
  }, 60_000);

  it('refuses a wrong token at the login form with 401', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${opsUrl}/ops/login`);
    await page.fill('#token', `${TOKEN}x`);
    const [answer] = await Promise.all([page.waitForResponse((r) => r.url() === `${opsUrl}/ops/login` && r.request().method() === 'POST'), page.click('button[type=submit]')]);
    expect(answer.status()).toBe(401);
    expect(await page.locator('[role=alert]').innerText()).toContain('not the operator token');
    expect(await context.cookies()).toEqual([]);
    await context.close();
  });
});

describe('the operator page over HTTP', () => {
  it('answers with the security headers, and the login page (401) without a token', async () => {
    const answer = await get('/ops/payments');
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('Bearer realm="isogw-operator"');
    expect(answer.body).toContain('<form class="login" method="post" action="/ops/login">');
    expect(answer.headers['content-security-policy']).toBe("default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    expect(answer.headers['x-frame-options']).toBe('DENY');
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
  });

  it('refuses a wrong Bearer token with 401 invalid_token, and serves the page and the JSON API with the right one', async () => {
    const wrong = await get('/ops/payments', { authorization: `Bearer ${TOKEN}x` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="isogw-operator", error="invalid_token"');
    expect((await get('/ops/api/payments', { authorization: 'Bearer nope' })).status).toBe(401);

    const html = await get(`/ops/payments/${uetr}`, { authorization: `Bearer ${TOKEN}` });
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    // The pacs.002 and the hostile texts are escaped in the bytes themselves.
    expect(html.body).toContain('&lt;Document');
    expect(html.body).not.toContain('<script');

    const list = await get(`/ops/api/payments?uetr=${uetr}`, { authorization: `Bearer ${TOKEN}` });
    expect(list.status).toBe(200);
    const body = JSON.parse(list.body) as { payments: { uetr: string; msgId: string; status: string; amount: { minor: string; value: string; currency: string } }[] };
    expect(body.payments).toHaveLength(1);
    expect(body.payments[0]).toMatchObject({ uetr, msgId, status: 'ACSC', amount: { currency: 'EUR' } });
    expect(typeof body.payments[0]!.amount.minor).toBe('string');
    const detail = JSON.parse((await get(`/ops/api/payments/${uetr}`, { authorization: `Bearer ${TOKEN}` })).body) as { deliveries: unknown[]; reportXml: string };
    expect(detail.deliveries).toHaveLength(6);
    expect(detail.reportXml).toContain(uetr);
    const balances = JSON.parse((await get('/ops/api/balances', { authorization: `Bearer ${TOKEN}` })).body) as { sums: { currency: string; minor: string }[] };
    expect(balances.sums).toEqual([{ currency: 'EUR', minor: '0', value: '0.00' }]);
  });

  it('takes the JSON API with the Bearer token only, never a session cookie', async () => {
    const login = await request(`${opsUrl}/ops/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(TOKEN)}` });
    await login.body.text();
    expect(login.statusCode).toBe(303);
    expect(login.headers['location']).toBe('/ops/payments');
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect(String(login.headers['set-cookie'])).toMatch(/; Path=\/ops; HttpOnly; SameSite=Strict; Max-Age=900$/);
    expect((await get('/ops/balances', { cookie })).status).toBe(200);
    expect((await get('/ops/api/balances', { cookie })).status).toBe(401);
  });

  it('refuses a forged or expired session cookie', async () => {
    const future = Math.floor(Date.now() / 1000) + 600;
    expect((await get('/ops/balances', { cookie: `isogw_operator=${future}.${'A'.repeat(43)}` })).status).toBe(401);
    expect((await get('/ops/balances', { cookie: `isogw_operator=1.${'A'.repeat(43)}` })).status).toBe(401);
    expect((await get('/ops/balances', { cookie: 'isogw_operator=garbage' })).status).toBe(401);
  });

  it('answers 405 to a write method on a read page, and 403 to a login form from another site', async () => {
    for (const path of ['/ops/payments', `/ops/payments/${uetr}`, '/ops/balances', '/ops/api/webhooks']) {
      const answer = await request(`${opsUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '' });
      await answer.body.text();
      expect(answer.statusCode, path).toBe(405);
      expect(answer.headers['allow']).toBe('GET, HEAD');
    }
    const crossSite = await request(`${opsUrl}/ops/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: `token=${encodeURIComponent(TOKEN)}`,
    });
    await crossSite.body.text();
    expect(crossSite.statusCode).toBe(403);
    expect(crossSite.headers['set-cookie']).toBeUndefined();
  });

  it('answers a client mistake with 400 or 404, never 500', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await get('/ops/payments?status=NOPE', auth)).status).toBe(400);
    expect((await get('/ops/payments?before=-1', auth)).status).toBe(400);
    expect((await get(`/ops/payments?msgId=${'x'.repeat(65)}`, auth)).status).toBe(400);
    expect((await get('/ops/payments?uetr=not-a-uuid', auth)).status).toBe(200);
    expect((await get('/ops/payments/not-a-uuid', auth)).status).toBe(404);
    expect((await get('/ops/payments/%E0%A4%A', auth)).status).toBe(404);
    expect((await get('/ops/payments/3f1c7f0e-0000-4000-8000-000000000000', auth)).status).toBe(404);
    expect((await get('/ops/webhooks/endpoints/nope', auth)).status).toBe(404);
    expect((await get('/ops/nothing-here', auth)).status).toBe(404);
  });

  it('is a 404 when no operator token is configured', async () => {
    const listener = await startOpsListener({ host: '127.0.0.1', port: 0, registry: new Registry(), readiness: [] });
    try {
      for (const path of ['/ops', '/ops/', '/ops/payments', '/ops/login', '/ops/api/balances']) {
        const answer = await request(`${listener.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
        await answer.body.text();
        expect(answer.statusCode, path).toBe(404);
      }
    } finally {
      await listener.close();
    }
  });
});
