/**
 * The intake pipeline for `POST /iso20022/pacs.008`, as one ordered list of named stages, read top to bottom:
 *
 *   authenticate → authorise → rateLimit → requireIdempotencyKey → readBody → check → entitle → deduplicate → post → respond
 *
 * Each stage either enriches the intake's state or ends the request with a documented answer. Authentication runs
 * before a single body byte is read: strangers never make us buffer, parse or validate anything. A message that
 * fails its schema, the rules or the entitlement check is answered without touching Redis or the ledger; only a
 * message that could move money claims its Idempotency-Key and is booked.
 *
 * Time per stage is bounded: reading the body by INTAKE_TIME_LIMITS.bodyReadMs; parsing and validation by the
 * message byte and transaction limits (they are synchronous and cannot be pre-empted, so their input is bounded
 * instead); the idempotency claim by IDEMPOTENCY_REDIS_TIMEOUT_MS; booking by the database's statement, lock and
 * connection timeouts (src/db/pool.ts), enforced by the server so that a timed-out booking is known to be undone.
 *
 * Observed in one place, the loop at the bottom: each stage's time, and how the request ended (outcome, reason,
 * Idempotency-Key result), counted and logged once; each booking is timed and every booked payment logged with its
 * UETR and MsgId (observedBooking). The stages themselves know nothing of metrics or logs.
 */
import { type IdempotencyFastPath, parseIdempotencyKey, requestFingerprint } from '../idempotency/index.ts';
import { buildPacs002, pacs002VersionFor, type StatusReason, type TransactionStatus } from '../iso20022/pacs002/index.ts';
import { reason } from '../iso20022/reasons.ts';
import { statusReason, statusReportFor } from '../iso20022/status-report.ts';
import { type CheckedMessage, checkPacs008, DEFAULT_MESSAGE_LIMITS, type MessageLimits, type SchemaSet } from '../iso20022/index.ts';
import type { IdempotencyResult, IntakeOutcome } from '../observability/metrics.ts';
import { OBSERVABILITY_LIMITS } from '../observability/limits.ts';
import { silentTelemetry, type Telemetry } from '../observability/telemetry.ts';
import { FAPI_SIGNING_ALGORITHMS } from '../partners/registry.ts';
import type { RateLimitCheck } from '../ratelimit/rate-limit-check.ts';
import type { AuthRequest, Authenticator, Caller } from '../security/authenticate.ts';
import { requireScope } from '../security/authenticate.ts';
import { isAuthFailure } from '../security/auth-failure.ts';
import { type BookedAnswer, type BookingOutcome, type BookingRequest, BookingUnavailable, type TransactionBooking } from './book-message.ts';
import { entitlementViolation } from './entitlement.ts';
import { authFailureResponse, type IntakeResponse, pacs002Response, problemResponse } from './responses.ts';

export interface IntakeRequest {
  readonly auth: AuthRequest;
  readonly contentType: string | undefined;
  /** Declared length, when the client sent one. */
  readonly contentLength: number | undefined;
  /** The request body, unread. */
  readonly body: AsyncIterable<Uint8Array> | undefined;
  /** Every Idempotency-Key header field sent (more than one is refused). */
  readonly idempotencyKey: string | readonly string[] | undefined;
}

export interface IntakeDependencies {
  readonly authenticate: Authenticator;
  readonly schemas: SchemaSet;
  readonly now: () => Date;
  /** A fresh pacs.002 MsgId (Max35Text). */
  readonly newReportId: () => string;
  readonly gatewayBic?: string | undefined;
  readonly messageLimits?: MessageLimits;
  /** The Redis fast path in front of the ledger's uniqueness. */
  readonly idempotency: IdempotencyFastPath;
  /** Books a checked message in the ledger (bookMessage bound to the pool): the final word on duplicates. */
  readonly book: (request: BookingRequest) => Promise<BookingOutcome>;
  /** The answer the ledger stored for (partner, key), if that booking committed (findStoredAnswer). */
  readonly findAnswer: (clientId: string, idempotencyKey: string) => Promise<{ fingerprint: string; answer: BookedAnswer } | undefined>;
  /** Logs, metrics and the request's correlation (default: silent). */
  readonly telemetry?: Telemetry | undefined;
  /** The partner's intake rate limit (src/ratelimit/); undefined = none. */
  readonly rateLimit?: RateLimitCheck | undefined;
}

export const INTAKE_TIME_LIMITS = {
  /** The whole body must arrive within this, however slowly it trickles (slow-loris bodies hold a connection). */
  bodyReadMs: 10_000,
  /** Retry-After for a 409 while the first request with the same key is still being booked. */
  inFlightRetryAfterSeconds: 1,
  /** Retry-After for a 503 when the ledger cannot book right now. */
  ledgerUnavailableRetryAfterSeconds: 2,
} as const;

/** HTTP statuses of the intake (docs/errors.md is generated from this list). */
export const INTAKE_STATUS = {
  /** pacs.002 with every transaction settled (ACSC) or accepted in process (ACSP), or some (group status PART). */
  accepted: 200,
  /** pacs.002 RJCT: the message or every transaction failed the XSD, the rules or the ledger (AM03, AM04). */
  rejected: 422,
  /** pacs.002 RJCT AGNT: the message names a sender BIC the caller is not registered for. */
  notEntitled: 403,
  /** pacs.002 RJCT DUPL: the message (or every payment in it) was booked before under another key. */
  duplicate: 409,
  /** JSON problem: another request with this Idempotency-Key is still being booked (Retry-After). */
  keyInFlight: 409,
  /** JSON problem: this Idempotency-Key was used before with a different body. */
  keyReused: 422,
  /** JSON problem: the partner's intake rate limit is spent (Retry-After, RateLimit headers); nothing was read. */
  rateLimited: 429,
  /** JSON problem: Idempotency-Key missing or malformed. */
  keyMissing: 400,
  /** JSON problem: not a pacs.008 we can identify (not XML, DOCTYPE, unknown namespace...), or a broken body. */
  unreadable: 400,
  /** JSON problem: the body did not arrive within the time limit. */
  bodyTimeout: 408,
  tooLarge: 413,
  unsupportedMediaType: 415,
  /** JSON problem: the ledger cannot book right now; nothing was booked (Retry-After). */
  ledgerUnavailable: 503,
} as const;

/** The header marking an answer as the stored answer to an earlier request with the same key (as Stripe names it). */
export const REPLAY_HEADER = 'idempotent-replayed';

const XML_MEDIA_TYPES = new Set(['application/xml', 'text/xml']);

interface IntakeState {
  caller?: Caller;
  idempotencyKey?: string;
  bytes?: Uint8Array;
  fingerprint?: string;
  checked?: CheckedMessage;
  /** The Redis claim on the key, when Redis answered. */
  claimToken?: string;
  /** The first ISO reason code of the pacs.002 built for this request, if any (for the outcome metric and log). */
  reason?: string;
  now: Date;
}

type Stage = (request: IntakeRequest, state: IntakeState) => Promise<IntakeResponse | undefined> | IntakeResponse | undefined;

export function createIntake(deps: IntakeDependencies): (request: IntakeRequest) => Promise<IntakeResponse> {
  const limits = deps.messageLimits ?? DEFAULT_MESSAGE_LIMITS;
  const telemetry = deps.telemetry ?? silentTelemetry();
  const book = observedBooking(deps.book, telemetry);

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

  /** Per partner, before a single body byte is read: a rate-limited request costs us no parsing and changes nothing. */
  const rateLimit: Stage = async (_request, state) => {
    const limited = await deps.rateLimit?.(state.caller!.clientId, 'intake');
    if (limited === undefined) return undefined;
    // Named for the docs: the check answers INTAKE_STATUS.rateLimited.
    if (limited.status !== INTAKE_STATUS.rateLimited) throw new Error(`rate limit check answered ${limited.status}`);
    return withNonce(state, limited);
  };

  const requireIdempotencyKey: Stage = (request, state) => {
    const header = parseIdempotencyKey(request.idempotencyKey);
    if (header.kind === 'missing') {
      return problemResponse(INTAKE_STATUS.keyMissing, 'idempotency_key_missing', 'send an Idempotency-Key header: a unique value per payment message, reused only to retry it');
    }
    if (header.kind === 'invalid') return problemResponse(INTAKE_STATUS.keyMissing, 'idempotency_key_invalid', header.reason);
    state.idempotencyKey = header.key;
    return undefined;
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
    const deadline = state.now.getTime() + INTAKE_TIME_LIMITS.bodyReadMs;
    const body: AsyncIterable<Uint8Array> = request.body ?? (async function* () {})();
    const iterator = body[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await withDeadline(iterator.next(), deadline);
        if (next === TIMED_OUT) {
          await iterator.return?.();
          return problemResponse(INTAKE_STATUS.bodyTimeout, 'body_timeout', `the body must arrive within ${INTAKE_TIME_LIMITS.bodyReadMs} ms`);
        }
        if (next.done === true) break;
        size += next.value.byteLength;
        if (size > limits.messageBytesMax) return tooLarge();
        chunks.push(next.value);
      }
    } catch (error) {
      // The client went away or broke the framing mid-body: its mistake (or its network's), never a 500.
      return problemResponse(INTAKE_STATUS.unreadable, 'incomplete_body', `the request body could not be read: ${(error as Error).message}`);
    }
    state.bytes = Buffer.concat(chunks, size);
    state.fingerprint = requestFingerprint(state.bytes);
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

  /** Only a message that can move money claims its key; a rejected one is answered the same way every time. */
  const bookable = (state: IntakeState): boolean => {
    const checked = state.checked!;
    return checked.message !== undefined && checked.messageReasons.length === 0 && checked.transactions.some((t) => t.accepted);
  };

  const deduplicate: Stage = async (_request, state) => {
    if (!bookable(state)) return undefined;
    const claim = await deps.idempotency.claim(state.caller!.clientId, state.idempotencyKey!, state.fingerprint!);
    switch (claim.kind) {
      case 'claimed':
        state.claimToken = claim.token;
        return undefined;
      case 'completed':
        return replayed(state, claim.response.status, claim.response.body);
      case 'in_flight': {
        // Redis says in flight, but the first request may have committed and died before telling Redis: the
        // ledger knows, and then the retry gets its answer now rather than 409s until the claim expires.
        const stored = await deps.findAnswer(state.caller!.clientId, state.idempotencyKey!).catch(() => undefined);
        if (stored !== undefined) {
          return stored.fingerprint === state.fingerprint ? replayed(state, stored.answer.status, stored.answer.body) : keyReused(state);
        }
        return withNonce(state, {
          ...problemResponse(INTAKE_STATUS.keyInFlight, 'idempotency_key_in_flight', 'a request with this Idempotency-Key is still being processed; retry after it finishes'),
          headers: { ...problemHeaders, 'retry-after': String(INTAKE_TIME_LIMITS.inFlightRetryAfterSeconds) },
        });
      }
      case 'conflict':
        return keyReused(state);
      case 'unavailable':
        // Redis is only the fast path: the ledger's unique constraints still decide, so go on without a claim.
        return undefined;
    }
  };

  const post: Stage = async (_request, state) => {
    if (!bookable(state)) return undefined;
    const caller = state.caller!;
    let outcome: BookingOutcome;
    try {
      outcome = await book({
        clientId: caller.clientId,
        idempotencyKey: state.idempotencyKey!,
        fingerprint: state.fingerprint!,
        checked: state.checked!,
        answer: (bookings) => bookedAnswer(state, bookings),
      });
    } catch (error) {
      await releaseClaim(state);
      if (!(error instanceof BookingUnavailable)) throw error;
      return withNonce(state, {
        ...problemResponse(INTAKE_STATUS.ledgerUnavailable, 'ledger_unavailable', 'the ledger cannot book payments right now; nothing was booked, retry with the same Idempotency-Key'),
        headers: { ...problemHeaders, 'retry-after': String(INTAKE_TIME_LIMITS.ledgerUnavailableRetryAfterSeconds) },
      });
    }
    switch (outcome.kind) {
      case 'booked':
        await completeClaim(state, outcome.answer);
        return withNonce(state, pacs002Response(outcome.answer.status, outcome.answer.body));
      case 'replay':
        await completeClaim(state, outcome.answer);
        return replayed(state, outcome.answer.status, outcome.answer.body);
      case 'key_reused':
        await releaseClaim(state);
        return keyReused(state);
      case 'duplicate_message': {
        const message = state.checked!.message!;
        const statuses = outcome.original.statuses.length === 0 ? 'none accepted' : outcome.original.statuses.join(', ');
        const duplicate: CheckedMessage = {
          ...state.checked!,
          accepted: false,
          messageReasons: [
            reason(
              'DUPLICATE_MESSAGE',
              `${message.group.path}/MsgId`,
              `MsgId ${message.group.messageId} was received at ${outcome.original.receivedAt.toISOString()}; payment statuses: ${statuses}`,
            ),
          ],
        };
        const answer = report(duplicate, state, INTAKE_STATUS.duplicate);
        await completeClaim(state, { status: answer.status, body: answer.body });
        return answer;
      }
    }
  };

  const respond: Stage = (_request, state) => {
    const checked = state.checked!;
    const anyAccepted = checked.messageReasons.length === 0 && checked.transactions.some((t) => t.accepted);
    return report(checked, state, anyAccepted ? INTAKE_STATUS.accepted : INTAKE_STATUS.rejected);
  };

  /** The pacs.002 for a booked message: each transaction's ledger outcome overrides its validation status. */
  const bookedAnswer = (state: IntakeState, bookings: ReadonlyMap<number, TransactionBooking>): BookedAnswer => {
    const outcomes = [...bookings.values()];
    const anyBooked = outcomes.some((b) => b.kind === 'settled' || b.kind === 'held');
    const allDuplicates = outcomes.length > 0 && outcomes.every((b) => b.kind === 'duplicate');
    const status = anyBooked ? INTAKE_STATUS.accepted : allDuplicates ? INTAKE_STATUS.duplicate : INTAKE_STATUS.rejected;
    const answer = report(state.checked!, state, status, (index) => {
      const booking = bookings.get(index);
      if (booking === undefined) return undefined;
      return ledgerStatus(booking);
    });
    return { status: answer.status, body: answer.body };
  };

  const report = (
    checked: CheckedMessage,
    state: IntakeState,
    status: number,
    transactionStatus?: (index: number) => { status: TransactionStatus; reasons: readonly StatusReason[] } | undefined,
  ): IntakeResponse => {
    const statusReport = statusReportFor(checked, {
      messageId: deps.newReportId(),
      creationDateTime: state.now.toISOString(),
      acceptedStatus: 'ACTC',
      ...(transactionStatus === undefined ? {} : { transactionStatus }),
      ...(deps.gatewayBic === undefined ? {} : { gatewayBic: deps.gatewayBic }),
    });
    state.reason = statusReport.groupReasons[0]?.code ?? statusReport.transactions.find((t) => t.reasons.length > 0)?.reasons[0]?.code;
    const version = Number(checked.messageType.slice(-2));
    return withNonce(state, pacs002Response(status, buildPacs002(statusReport, pacs002VersionFor(version))));
  };

  const replayed = (state: IntakeState, status: number, body: string): IntakeResponse =>
    withNonce(state, pacs002Response(status, body, { [REPLAY_HEADER]: 'true' }));

  const keyReused = (state: IntakeState): IntakeResponse =>
    withNonce(state, problemResponse(INTAKE_STATUS.keyReused, 'idempotency_key_reused', 'this Idempotency-Key was used before with a different body; a retry must resend the same bytes, a new message needs a new key'));

  const completeClaim = async (state: IntakeState, answer: BookedAnswer): Promise<void> => {
    if (state.claimToken === undefined) return;
    const response = { status: answer.status, headers: { 'content-type': PACS002_CONTENT_TYPE }, body: answer.body };
    // A failure here is harmless: the ledger keeps the answer and replays it once the Redis claim expires.
    await deps.idempotency.complete(state.caller!.clientId, state.idempotencyKey!, state.claimToken, state.fingerprint!, response);
  };

  const releaseClaim = async (state: IntakeState): Promise<void> => {
    if (state.claimToken === undefined) return;
    await deps.idempotency.release(state.caller!.clientId, state.idempotencyKey!, state.claimToken);
  };

  const STAGES: readonly Stage[] = [authenticate, authorise, rateLimit, requireIdempotencyKey, readBody, check, entitle, deduplicate, post, respond];

  const { metrics, logger } = telemetry;

  const timed = async (stage: Stage, request: IntakeRequest, state: IntakeState): Promise<IntakeResponse | undefined> => {
    const endTimer = metrics.intakeStageSeconds.startTimer({ stage: stage.name });
    const response = await stage(request, state);
    endTimer();
    return response;
  };

  /** Counted and logged once per request, however it ended (a throw is a 500 from the app's error handler: `error`). */
  const observeAnswer = (stage: string, response: IntakeResponse | undefined, state: IntakeState, durationMs: number): void => {
    const outcome = response === undefined ? 'error' : outcomeOf(stage, response);
    const reason = response === undefined ? '' : (state.reason ?? errorCodeOf(response) ?? '');
    metrics.intakeRequests.inc({ outcome, reason });
    const idempotency = idempotencyResultOf(stage, outcome);
    if (idempotency !== undefined) metrics.idempotency.inc({ result: idempotency });
    const message = state.checked?.message;
    const uetrs = message?.transactions.flatMap((t) => (t.uetr === undefined ? [] : [t.uetr.toLowerCase()]));
    logger[outcome === 'error' || outcome === 'unavailable' ? 'warn' : 'info'](
      {
        stage,
        outcome,
        reason,
        status: response?.status ?? 500,
        durationMs: Math.round(durationMs),
        clientId: state.caller?.clientId,
        idempotencyKey: state.idempotencyKey,
        msgId: message?.group.messageId ?? state.checked?.identity.messageId,
        transactions: message?.transactions.length,
        uetrs: uetrs?.slice(0, OBSERVABILITY_LIMITS.logUetrsPerLineMax),
      },
      'intake answered',
    );
  };

  return async (request) => {
    const state: IntakeState = { now: deps.now() };
    const started = performance.now();
    let stage: Stage | undefined;
    let response: IntakeResponse | undefined;
    try {
      for (stage of STAGES) {
        response = await timed(stage, request, state);
        if (response !== undefined) return response;
      }
      throw new Error('intake pipeline ended without a response'); // unreachable: `respond` always answers
    } finally {
      observeAnswer(stage?.name ?? 'none', response, state, performance.now() - started);
    }
  };
}

/**
 * The booking, observed: its latency, the interaction id stored with the message (so the webhook relay can log it
 * with every delivery of its payments), and one log line per payment with its UETR, MsgId and ledger outcome.
 */
function observedBooking(book: IntakeDependencies['book'], telemetry: Telemetry): IntakeDependencies['book'] {
  const { metrics, logger, correlation } = telemetry;
  return async (request) => {
    const endTimer = metrics.ledgerBookingSeconds.startTimer();
    let outcome: BookingOutcome;
    try {
      outcome = await book({ ...request, correlationId: correlation.current()?.interactionId });
    } finally {
      endTimer();
    }
    if (outcome.kind === 'booked') {
      const msgId = request.checked.message?.group.messageId;
      for (const [index, booking] of outcome.bookings) {
        const uetr = booking.kind === 'duplicate' ? booking.existing.uetr : booking.uetr;
        const reason = booking.kind === 'rejected' || booking.kind === 'duplicate' ? booking.reason.code : undefined;
        logger.info({ msgId, uetr, transaction: index, booking: booking.kind, ...(reason === undefined ? {} : { reason }) }, `payment ${booking.kind}`);
      }
    }
    return outcome;
  };
}

/** How a request ended, from the stage that answered and the answer (see INTAKE_OUTCOMES). */
function outcomeOf(stage: string, response: IntakeResponse): IntakeOutcome {
  if (response.headers[REPLAY_HEADER] === 'true') return 'replayed';
  if (stage === 'authenticate' || stage === 'authorise' || stage === 'rateLimit') return 'refused';
  const isPacs002 = String(response.headers['content-type']).startsWith('application/xml');
  if (isPacs002) return response.status === INTAKE_STATUS.accepted ? 'accepted' : response.status === INTAKE_STATUS.duplicate ? 'duplicate' : 'rejected';
  if (stage === 'deduplicate' || stage === 'post') {
    if (response.status === INTAKE_STATUS.keyInFlight) return 'key_in_flight';
    if (response.status === INTAKE_STATUS.keyReused) return 'key_reused';
    if (response.status === INTAKE_STATUS.ledgerUnavailable) return 'unavailable';
  }
  return 'invalid';
}

/** Only messages that could move money use their key: those that reached `deduplicate` and answered there or later. */
function idempotencyResultOf(stage: string, outcome: IntakeOutcome): IdempotencyResult | undefined {
  if (outcome === 'replayed') return 'hit';
  if (outcome === 'key_in_flight') return 'in_flight';
  if (outcome === 'key_reused') return 'reused';
  return stage === 'post' ? 'miss' : undefined;
}

/** The `error` of a JSON answer (an OAuth refusal or a problem); a refusal without credentials has none. */
function errorCodeOf(response: IntakeResponse): string | undefined {
  if (!String(response.headers['content-type']).startsWith('application/json')) return undefined;
  try {
    const error = (JSON.parse(response.body) as { error?: unknown }).error;
    return typeof error === 'string' ? error : undefined;
  } catch {
    return undefined;
  }
}

const PACS002_CONTENT_TYPE = 'application/xml; charset=utf-8';
const problemHeaders = { 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' } as const;

/** Each ledger outcome as the pacs.002 reports it. */
function ledgerStatus(booking: TransactionBooking): { status: TransactionStatus; reasons: readonly StatusReason[] } {
  switch (booking.kind) {
    case 'settled':
      return { status: 'ACSC', reasons: [] };
    case 'held':
      return { status: 'ACSP', reasons: [] };
    case 'rejected':
    case 'duplicate':
      return { status: 'RJCT', reasons: [statusReason(booking.reason)] };
  }
}

/** DPoP-Nonce rides on every answer to a caller that has one (RFC 9449 §8: the next proof should use it). */
function withNonce(state: IntakeState, response: IntakeResponse): IntakeResponse {
  const nonce = state.caller?.dpopNonce;
  return nonce === undefined ? response : { ...response, headers: { ...response.headers, 'dpop-nonce': nonce } };
}

const TIMED_OUT = Symbol('timed out');

async function withDeadline<T>(promise: Promise<T>, deadlineMs: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, deadlineMs - Date.now()));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
