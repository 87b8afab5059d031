/**
 * iso20022 — the gateway's message domain: pure functions, no framework, no network, no file system.
 * Schemas reach it through a loader the caller provides.
 */
export { checkPacs008, type CheckOptions, type CheckResult, type CheckedMessage, type UnreadableMessage, type TransactionOutcome } from './check.ts';
export { DEFAULT_MESSAGE_LIMITS, XML_ELEMENT_DEPTH_MAX, type MessageLimits } from './limits.ts';
export type * from './model.ts';
export { REASONS, type Reason, type ReasonId, type ReasonDefinition } from './reasons.ts';
export { SchemaSet, type SchemaLoader } from './validate/schemas.ts';
export { PACS008_VERSIONS, HEAD001_VERSIONS } from './parse/versions.ts';
export { statusReportFor, statusReason, type StatusReportOptions } from './status-report.ts';
