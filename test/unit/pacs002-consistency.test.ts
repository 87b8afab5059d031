import { describe, expect, it } from 'vitest';
import { buildPacs002 } from '../../src/iso20022/pacs002/build.ts';
import { STATUS_PROGRESSION, groupStatusFor, statusConsistencyErrors } from '../../src/iso20022/pacs002/consistency.ts';
import { TRANSACTION_STATUSES } from '../../src/iso20022/pacs002/model.ts';
import type { GroupStatus, StatusReport, TransactionStatus, TransactionStatusEntry } from '../../src/iso20022/pacs002/model.ts';

const reason = { code: 'AC03', additionalInfo: ['IBAN unknown'] } as const;

function tx(status: TransactionStatus, n = 1, extra: Partial<TransactionStatusEntry> = {}): TransactionStatusEntry {
  return { originalEndToEndId: `E2E-${String(n)}`, status, reasons: status === 'RJCT' ? [reason] : [], ...extra };
}

function report(groupStatus: GroupStatus | undefined, transactions: TransactionStatusEntry[], groupReasons = [] as StatusReport['groupReasons']): StatusReport {
  return {
    messageId: 'STS-1',
    creationDateTime: '2026-11-21T10:15:00Z',
    original: { messageId: 'ORIG-1', messageNameId: 'pacs.008.001.08' },
    ...(groupStatus === undefined ? {} : { groupStatus }),
    groupReasons,
    transactions,
  };
}

describe('statusConsistencyErrors', () => {
  it('accepts the three standard shapes', () => {
    expect(statusConsistencyErrors(report('ACSC', [tx('ACSC', 1), tx('ACSC', 2)]))).toEqual([]);
    expect(statusConsistencyErrors(report('RJCT', [], [{ code: 'AM10', additionalInfo: [] }]))).toEqual([]);
    expect(statusConsistencyErrors(report('RJCT', [tx('RJCT', 1), tx('RJCT', 2)]))).toEqual([]);
    expect(statusConsistencyErrors(report('PART', [tx('ACSP', 1), tx('RJCT', 2)]))).toEqual([]);
    expect(statusConsistencyErrors(report(undefined, [tx('ACSP', 1), tx('RJCT', 2)]))).toEqual([]);
    expect(statusConsistencyErrors(report('RCVD', []))).toEqual([]);
  });

  it.each(['ACTC', 'ACCP', 'ACSP', 'ACSC', 'ACWC', 'ACCC', 'PDNG'] as const)(
    'group %s forbids a RJCT transaction (GroupStatusAccepted/PendingRule)',
    (group) => {
      const errors = statusConsistencyErrors(report(group, [tx('ACSC', 1), tx('RJCT', 2)]));
      expect(errors).toEqual([expect.stringMatching(new RegExp(`groupStatus ${group} but transactions\\[1\\]\\.status is RJCT`))]);
    },
  );

  it('group RJCT requires every transaction RJCT (GroupStatusRejectedRule)', () => {
    const errors = statusConsistencyErrors(report('RJCT', [tx('RJCT', 1), tx('ACSP', 2), tx('PDNG', 3)]));
    expect(errors).toEqual([
      expect.stringContaining('transactions[1].status is ACSP (GroupStatusRejectedRule)'),
      expect.stringContaining('transactions[2].status is PDNG (GroupStatusRejectedRule)'),
    ]);
  });

  it('group RJCT with nothing listed needs a group reason', () => {
    expect(statusConsistencyErrors(report('RJCT', []))).toEqual([expect.stringContaining('groupStatus RJCT needs at least one group reason')]);
  });

  it('group RCVD must not list transactions (GroupStatusReceivedRule)', () => {
    expect(statusConsistencyErrors(report('RCVD', [tx('ACSP')]))).toEqual([expect.stringContaining('GroupStatusReceivedRule')]);
  });

  it('group PART needs at least one RJCT and one non-RJCT transaction', () => {
    expect(statusConsistencyErrors(report('PART', [tx('ACSP', 1), tx('PDNG', 2)]))).toEqual(['groupStatus PART but no transaction is RJCT']);
    expect(statusConsistencyErrors(report('PART', [tx('RJCT', 1), tx('RJCT', 2)]))).toEqual([
      expect.stringContaining('groupStatus PART but no transaction is accepted or pending'),
    ]);
    expect(statusConsistencyErrors(report('PART', []))).toHaveLength(2);
  });

  it('PART is a group-only status', () => {
    const errors = statusConsistencyErrors(report(undefined, [tx('PART' as TransactionStatus)]));
    expect(errors).toEqual([expect.stringContaining('PART exists only at group level')]);
  });

  it('rejects unknown status codes', () => {
    expect(statusConsistencyErrors(report('XXXX' as GroupStatus, [tx('ACSP')]))).toEqual([expect.stringContaining('groupStatus "XXXX" is not a group status')]);
    expect(statusConsistencyErrors(report(undefined, [tx('ACCR' as TransactionStatus)]))).toEqual([expect.stringContaining('"ACCR" is not a transaction status')]);
  });

  it('a RJCT transaction must carry a reason code', () => {
    const errors = statusConsistencyErrors(report('PART', [tx('ACSP', 1), tx('RJCT', 2, { reasons: [] })]));
    expect(errors).toEqual(['transactions[1] is RJCT but carries no reason code']);
  });

  it('reason NARR must carry its narrative', () => {
    const narr = { code: 'NARR', additionalInfo: [] };
    expect(statusConsistencyErrors(report('RJCT', [], [narr]))).toEqual([expect.stringContaining('groupReasons[0]: reason code NARR needs additionalInfo')]);
    expect(statusConsistencyErrors(report(undefined, [tx('PDNG', 1, { reasons: [narr] })]))).toEqual([
      expect.stringContaining('transactions[0].reasons[0]: reason code NARR'),
    ]);
  });

  it('without a group status, transactions must carry the status and group reasons are meaningless', () => {
    expect(statusConsistencyErrors(report(undefined, []))).toEqual([expect.stringContaining('reports no status')]);
    expect(statusConsistencyErrors(report(undefined, [tx('ACSP')], [reason]))).toEqual(['groupReasons given without a groupStatus']);
  });

  it('every transaction names its original, and status ids are unique', () => {
    const anonymous: TransactionStatusEntry = { statusId: 'S1', status: 'ACSP', reasons: [] };
    expect(statusConsistencyErrors(report('ACSP', [anonymous]))).toEqual([expect.stringContaining('transactions[0] names no original transaction')]);
    for (const id of [{ originalInstructionId: 'I' }, { originalTransactionId: 'T' }, { originalUetr: 'eb6305c9-1f7f-49de-aed0-16487c27b42d' }]) {
      expect(statusConsistencyErrors(report('ACSP', [{ ...anonymous, ...id }]))).toEqual([]);
    }
    const dup = statusConsistencyErrors(report('ACSP', [tx('ACSP', 1, { statusId: 'S1' }), tx('ACSP', 2, { statusId: 'S1' })]));
    expect(dup).toEqual(['transactions[1].statusId repeats transactions[0].statusId "S1"']);
  });

  it('buildPacs002 turns any consistency error into a TypeError', () => {
    expect(() => buildPacs002(report('RJCT', [tx('ACSP')]), 9)).toThrow(TypeError);
    expect(() => buildPacs002(report('RCVD', [tx('ACSP')]), 16)).toThrow(/GroupStatusReceivedRule/);
    expect(() => buildPacs002(report('PART', [tx('ACSP')]), 2)).toThrow(/PART but no transaction is RJCT/);
  });
});

describe('groupStatusFor', () => {
  it('all RJCT → RJCT; some RJCT → PART', () => {
    expect(groupStatusFor(['RJCT'])).toBe('RJCT');
    expect(groupStatusFor(['RJCT', 'RJCT', 'RJCT'])).toBe('RJCT');
    expect(groupStatusFor(['ACSC', 'RJCT'])).toBe('PART');
    expect(groupStatusFor(['RJCT', 'PDNG', 'RJCT'])).toBe('PART');
  });

  it('no RJCT → the common status', () => {
    for (const status of STATUS_PROGRESSION) expect(groupStatusFor([status, status])).toBe(status);
  });

  it('no RJCT, mixed → the least advanced in RCVD < PDNG < ACTC < ACCP < ACSP < ACWC < ACSC < ACCC', () => {
    expect(STATUS_PROGRESSION).toEqual(['RCVD', 'PDNG', 'ACTC', 'ACCP', 'ACSP', 'ACWC', 'ACSC', 'ACCC']);
    expect(groupStatusFor(['ACCC', 'ACSC'])).toBe('ACSC');
    expect(groupStatusFor(['ACSC', 'ACWC', 'ACCC'])).toBe('ACWC');
    expect(groupStatusFor(['ACSP', 'ACWC'])).toBe('ACSP');
    expect(groupStatusFor(['ACSC', 'ACTC', 'ACSP'])).toBe('ACTC');
    expect(groupStatusFor(['ACCC', 'PDNG'])).toBe('PDNG');
    expect(groupStatusFor(['ACCP', 'RCVD'])).toBe('RCVD');
    for (const [i, lower] of STATUS_PROGRESSION.entries()) {
      for (const higher of STATUS_PROGRESSION.slice(i)) {
        expect(groupStatusFor([higher, lower])).toBe(lower);
      }
    }
  });

  it('throws TypeError on no statuses or a non-status', () => {
    expect(() => groupStatusFor([])).toThrow(TypeError);
    expect(() => groupStatusFor(['ACSC', 'PART' as TransactionStatus])).toThrow(/statuses\[1\] is not a transaction status/);
  });

  it('derives a group status that passes the consistency rules for every pair of transaction statuses', () => {
    for (const a of TRANSACTION_STATUSES) {
      for (const b of TRANSACTION_STATUSES) {
        const group = groupStatusFor([a, b]);
        const errors = statusConsistencyErrors(report(group, [tx(a, 1), tx(b, 2)]));
        // RCVD is the one derived status under which transactions may not be listed.
        if (group === 'RCVD') expect(errors).toEqual([expect.stringContaining('GroupStatusReceivedRule')]);
        else expect(errors, `${a}+${b} → ${group}`).toEqual([]);
      }
    }
  });
});
