/**
 * `isogw validate`: one JSON object per file, exit status 0/1/2, the pacs.002 on request, and never a stack
 * trace — checked both in process and through the real executable.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { FIXTURES } from '../support/fixtures.ts';

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { status, out, err };
}

const ACCEPTED = `${FIXTURES}accept/shapes/bah-swift-envelope.xml`;
const REJECTED = `${FIXTURES}reject/AM10--ctrl-sum-mismatch.xml`;
const UNREADABLE = `${FIXTURES}reject/FF01--not-well-formed.xml`;

describe('isogw validate', () => {
  it('prints one JSON verdict per file and exits 0 when all are accepted', async () => {
    const { status, out } = await run('validate', ACCEPTED);
    expect(status).toBe(0);
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0] ?? '')).toEqual({
      file: ACCEPTED, accepted: true, messageType: 'pacs.008.001.08', transactions: 1, status: 'ACTC', reasons: [],
    });
  });

  it('exits 1 when any file is rejected, naming code, rule, path and message', async () => {
    const { status, out } = await run('validate', ACCEPTED, REJECTED);
    expect(status).toBe(1);
    const rejected = JSON.parse(out[1] ?? '');
    expect(rejected).toMatchObject({ accepted: false, messageType: 'pacs.008.001.08', transactions: 1, status: 'RJCT' });
    expect(rejected.reasons).toEqual([{
      code: 'AM10', rule: 'CTRL_SUM_MISMATCH', path: '/Document/FIToFICstmrCdtTrf/GrpHdr/CtrlSum',
      message: 'CtrlSum is 12840.01 but the IntrBkSttlmAmt of the transactions sum to 12840.00.',
    }]);
  });

  it('reports input that is not even XML as a rejection with a null message type', async () => {
    const { status, out } = await run('validate', UNREADABLE);
    expect(status).toBe(1);
    expect(JSON.parse(out[0] ?? '')).toMatchObject({ accepted: false, messageType: null, transactions: 0, reasons: [{ code: 'FF01', rule: 'XML_NOT_WELL_FORMED' }] });
  });

  it('prints the pacs.002 with --pacs002', async () => {
    const { status, out } = await run('validate', '--pacs002', REJECTED);
    expect(status).toBe(1);
    expect(out[0]).toContain('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10">');
    expect(out[0]).toContain('<GrpSts>RJCT</GrpSts>');
    expect(out[0]).toContain('<Cd>AM10</Cd>');
  });

  it('explains on stderr why unreadable input gets no pacs.002', async () => {
    const { out, err } = await run('validate', '--pacs002', UNREADABLE);
    expect(out).toEqual([]);
    expect(err.join('\n')).toMatch(/cannot be identified as a pacs\.008/);
  });

  it('exits 2 on usage errors: no file, an unknown option, an unknown command, a missing file', async () => {
    expect((await run('validate')).status).toBe(2);
    expect((await run('validate', '--nope', ACCEPTED)).status).toBe(2);
    expect((await run('frobnicate')).status).toBe(2);
    const missing = await run('validate', `${FIXTURES}does-not-exist.xml`, ACCEPTED);
    expect(missing.status).toBe(2);
    expect(missing.err.join('\n')).toMatch(/cannot read .*does-not-exist\.xml: ENOENT/);
    expect(missing.out).toHaveLength(1); // the readable file is still checked
  });
});

describe('the isogw executable', () => {
  const bin = fileURLToPath(new URL('../../bin/isogw.js', import.meta.url));
  const exec = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

  it('runs the same command with the same exit statuses', () => {
    expect(exec('validate', ACCEPTED).status).toBe(0);
    expect(exec('validate', REJECTED).status).toBe(1);
    expect(exec('validate').status).toBe(2);
  });

  it('never shows a user a stack trace', () => {
    for (const args of [['validate', '/nonexistent/dir/x.xml'], ['validate', '--pacs002'], ['what'], ['validate', '/']]) {
      const result = exec(...args);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.status).toBe(2);
    }
  });
});
