/** pacs.002 FIToFIPaymentStatusReport: model, version pairing, status rules and XML builder. */
export type { GroupStatus, StatusReason, StatusReport, TransactionStatus, TransactionStatusEntry } from './model.ts';
export { GROUP_STATUSES, TRANSACTION_STATUSES } from './model.ts';
export type { Pacs002Version } from './versions.ts';
export { PACS002_VERSIONS, PAIRED_PACS008_VERSIONS, isPacs002Version, pacs002VersionFor } from './versions.ts';
export { STATUS_PROGRESSION, groupStatusFor, statusConsistencyErrors } from './consistency.ts';
export type { Pacs002Layout } from './layout.ts';
export { pacs002Layout } from './layout.ts';
export { buildPacs002 } from './build.ts';
