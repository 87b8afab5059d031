/** What the bench (floor.ts) and its HTTP-floor sender child (floor-sender.ts) exchange: the job file and IPC messages. */

/** One signing key as JSON (SigningKey's bytes in base64). */
export interface KeyJson {
  readonly scheme: 'v1' | 'v1a';
  readonly secret: string;
  readonly publicKey?: string;
}

export interface FloorJob {
  readonly url: string;
  /** Connections to the receiver (the relay's sender: WEBHOOK_LIMITS.connectionsPerOrigin). */
  readonly connections: number;
  /** Payments in progress at once (the relay: WEBHOOK_LIMITS.claimBatchDeliveries deliveries in flight). */
  readonly concurrency: number;
  /** saturation: every payment is due at once; rate: payment k is due at start + k / ratePerSecond. */
  readonly mode: 'saturation' | 'rate';
  readonly ratePerSecond?: number;
  /** How many payments to send; payment k sends the bodies of bodies[k % bodies.length], in sequence order. */
  readonly payments: number;
  /** Real delivery bodies, per payment, in sequence order (what the relay sent in an earlier phase). */
  readonly bodies: readonly (readonly string[])[];
  /** Keys to pre-sign with (the endpoint's), so the receiver's verification does the same work as for the relay. */
  readonly keys: readonly KeyJson[];
  /** Distinguishes this job's webhook-ids from every other phase's: `evt_<tag + k as 32 hex digits>_<sequence>`. */
  readonly idTag: number;
}

/** The webhook-id the floor gives payment k's event `sequence` (the real ids' format and length). */
export function floorWebhookId(idTag: number, k: number, sequence: number): string {
  return `evt_${idTag.toString(16).padStart(8, '0')}${k.toString(16).padStart(24, '0')}_${sequence}`;
}

export type ParentMessage = { readonly type: 'job'; readonly file: string } | { readonly type: 'clock'; readonly id: number } | { readonly type: 'go' };

export type ChildMessage =
  | { readonly type: 'prepared'; readonly requests: number }
  | { readonly type: 'clock'; readonly id: number; readonly nowMs: number }
  | {
      readonly type: 'done';
      /** Child clock (performance.timeOrigin + performance.now()) when sending began: payment k was due at startedAtMs + k / rate. */
      readonly startedAtMs: number;
      readonly finishedAtMs: number;
      readonly sent: number;
      /** Responses by status; `error` for requests that got none. */
      readonly statuses: Record<string, number>;
      readonly firstError?: string;
      /** Payments started later than one interval after they were due (rate mode: every connection was busy). */
      readonly lateStarts: number;
    };
