/**
 * The intake pipeline for `POST /iso20022/pacs.008`, as one ordered list of named stages, read top to bottom:
 *
 *   authenticate → authorise → readBody → check → entitle → respond
 *
 * Each stage either enriches the intake's state or ends the request with a documented answer. Authentication runs
 * before a single body byte is read: strangers never make us buffer, parse or validate anything.
 * (Deduplication and posting to the ledger slot in between `entitle` and `respond`.)
 */
import { buildPacs002, pacs002VersionFor } from '../iso20022/pacs002/index.ts';
import { statusReportFor } from '../iso20022/status-report.ts';
import { type CheckedMessage, checkPacs008, DEFAULT_MESSAGE_LIMITS, type MessageLimits, type SchemaSet } from '../iso20022/index.ts';
import { FAPI_SIGNING_ALGORITHMS } from '../partners/registry.ts';
import type { AuthRequest, Authenticator, Caller } from '../security/authenticate.ts';
import { requireScope } from '../security/authenticate.ts';
import { isAuthFailure } from '../security/auth-failure.ts';
import { entitlementViolation } from './entitlement.ts';
import { authFailureResponse, type IntakeResponse, pacs002Response, problemResponse } from './responses.ts';

export interface IntakeRequest {
  readonly auth: AuthRequest;
  readonly contentType: string | undefined;
  /** Declared length, when the client sent one. */
  readonly contentLength: number | undefined;
  /** The request body, unread. */
  readonly body: AsyncIterable<Uint8Array> | undefined;
}

export interface IntakeDependencies {
  readonly authenticate: Authenticator;
  readonly schemas: SchemaSet;
  readonly now: () => Date;
  /** A fresh pacs.002 MsgId (Max35Text). */
  readonly newReportId: () => string;
  readonly gatewayBic?: string | undefined;
  readonly messageLimits?: MessageLimits;
}

/** HTTP statuses of the intake (docs/errors.md is generated from this list). */
export const INTAKE_STATUS = {
  /** pacs.002 with every transaction accepted, or some (group status PART). */
  accepted: 200,
  /** pacs.002 RJCT: the message or every transaction failed the XSD or the rules. */
  rejected: 422,
  /** pacs.002 RJCT AGNT: the message names a sender BIC the caller is not registered for. */
  notEntitled: 403,
  /** JSON problem: not a pacs.008 we can identify (not XML, DOCTYPE, unknown namespace...). */
  unreadable: 400,
  tooLarge: 413,
  unsupportedMediaType: 415,
} as const;

const XML_MEDIA_TYPES = new Set(['application/xml', 'text/xml']);

interface IntakeState {
  caller?: Caller;
  bytes?: Uint8Array;
  checked?: CheckedMessage;
  now: Date;
}

type Stage = (request: IntakeRequest, state: IntakeState) => Promise<IntakeResponse | undefined> | IntakeResponse | undefined;

export function createIntake(deps: IntakeDependencies): (request: IntakeRequest) => Promise<IntakeResponse> {
  const limits = deps.messageLimits ?? DEFAULT_MESSAGE_LIMITS;

  const authenticate: Stage = async (request, state) => {
    const outcome = await deps.authenticate(request.auth);
    if (isAuthFailure(outcome)) return authFailureResponse(outcome, FAPI_SIGNING_ALGORITHMS);
    state.caller = outcome;
    return undefined;
  };

  const authorise: Stage = (_request, state) => {
    const failure = requireScope(state.caller!, 'payments:write');
    return failure === undefined ? undefined : authFailureResponse(failure, FAPI_SIGNING_ALGORITHMS);
  };

  const readBody: Stage = async (request, state) => {
    const mediaType = request.contentType?.split(';')[0]?.trim().toLowerCase();
    if (mediaType === undefined || !XML_MEDIA_TYPES.has(mediaType)) {
      return problemResponse(INTAKE_STATUS.unsupportedMediaType, 'unsupported_media_type', 'send the pacs.008 as application/xml');
    }
    const tooLarge = () =>
      problemResponse(INTAKE_STATUS.tooLarge, 'payload_too_large', `a message may be at most ${limits.messageBytesMax} bytes`);
    if (request.contentLength !== undefined && request.contentLength > limits.messageBytesMax) return tooLarge();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for await (const chunk of request.body ?? []) {
        size += chunk.byteLength;
        if (size > limits.messageBytesMax) return tooLarge();
        chunks.push(chunk);
      }
    } catch (error) {
      // The client went away or broke the framing mid-body: its mistake (or its network's), never a 500.
      return problemResponse(INTAKE_STATUS.unreadable, 'incomplete_body', `the request body could not be read: ${(error as Error).message}`);
    }
    state.bytes = Buffer.concat(chunks, size);
    return undefined;
  };

  const check: Stage = (_request, state) => {
    const result = checkPacs008(state.bytes!, { schemas: deps.schemas, now: state.now, limits });
    if (result.kind === 'unreadable') {
      return problemResponse(INTAKE_STATUS.unreadable, 'unreadable_message', 'the body cannot be identified as a pacs.008, so no pacs.002 can answer it', result.reasons);
    }
    state.checked = result;
    return undefined;
  };

  const entitle: Stage = (_request, state) => {
    const message = state.checked!.message;
    // A schema-invalid message has no model; its pacs.002 rejects it anyway and nothing is posted.
    if (message === undefined) return undefined;
    const violation = entitlementViolation(message, state.caller!.partner.bics);
    if (violation === undefined) return undefined;
    const rejected: CheckedMessage = {
      ...state.checked!,
      accepted: false,
      messageReasons: [violation],
    };
    return report(rejected, state, INTAKE_STATUS.notEntitled);
  };

  const respond: Stage = (_request, state) => {
    const checked = state.checked!;
    const anyAccepted = checked.messageReasons.length === 0 && checked.transactions.some((t) => t.accepted);
    return report(checked, state, anyAccepted ? INTAKE_STATUS.accepted : INTAKE_STATUS.rejected);
  };

  const report = (checked: CheckedMessage, state: IntakeState, status: number): IntakeResponse => {
    const statusReport = statusReportFor(checked, {
      messageId: deps.newReportId(),
      creationDateTime: state.now.toISOString(),
      acceptedStatus: 'ACTC',
      ...(deps.gatewayBic === undefined ? {} : { gatewayBic: deps.gatewayBic }),
    });
    const version = Number(checked.messageType.slice(-2));
    const extra: Record<string, string> = state.caller?.dpopNonce === undefined ? {} : { 'dpop-nonce': state.caller.dpopNonce };
    return pacs002Response(status, buildPacs002(statusReport, pacs002VersionFor(version)), extra);
  };

  const STAGES: readonly Stage[] = [authenticate, authorise, readBody, check, entitle, respond];

  return async (request) => {
    const state: IntakeState = { now: deps.now() };
    for (const stage of STAGES) {
      const response = await stage(request, state);
      if (response !== undefined) return response;
    }
    throw new Error('intake pipeline ended without a response'); // unreachable: `respond` always answers
  };
}
