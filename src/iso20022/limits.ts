/**
 * Every bound the message core enforces, named once with its unit. Callers may pass tighter or looser
 * values through {@link MessageLimits}; these are the defaults the gateway and `isogw validate` use.
 */
export interface MessageLimits {
  /** Largest message accepted, in bytes of the raw body (checked before any parsing). */
  readonly messageBytesMax: number;
  /** Most CdtTrfTxInf occurrences in one message. */
  readonly transactionsPerMessageMax: number;
  /** Deepest wrapper nesting searched for AppHdr/Document (elements above Document). */
  readonly wrapperDepthMax: number;
  /** Most reasons reported for one message; a flood of schema errors says nothing more after this. */
  readonly reasonsPerMessageMax: number;
  /** How far in the future CreDtTm may be (clock skew between banks), in milliseconds. */
  readonly creationFutureSkewMs: number;
  /** How old CreDtTm may be, in milliseconds: older messages are stale (DT02). */
  readonly creationAgeMaxMs: number;
}

export const DEFAULT_MESSAGE_LIMITS: MessageLimits = Object.freeze({
  // A 100-transaction pacs.008 is ~40–120 KB; 2 MiB leaves room for big batches and still bounds memory.
  messageBytesMax: 2 * 1024 * 1024,
  transactionsPerMessageMax: 1_000,
  wrapperDepthMax: 8,
  reasonsPerMessageMax: 50,
  creationFutureSkewMs: 5 * 60 * 1000,
  creationAgeMaxMs: 30 * 24 * 60 * 60 * 1000,
});

/**
 * libxml2's own bound on element nesting (it refuses deeper documents unless XML_PARSE_HUGE is set, which we
 * never set). Stated here so that the limit is documented with its unit; it is enforced by the parser.
 */
export const XML_ELEMENT_DEPTH_MAX = 256;
