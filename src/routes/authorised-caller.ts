/**
 * The gate every protected JSON route passes before its path, query or body is looked at: authenticate (mTLS,
 * token, binding, DPoP), check the scope, then take one request from the partner's rate limit bucket of the route
 * class. Shared by GET /partners/me, the read side and the webhook API, so that they refuse alike; the intake
 * runs the same three steps as stages of its pipeline (src/payments/intake.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

import { FAPI_SIGNING_ALGORITHMS } from '../partners/registry.ts';
import type { RateLimitCheck } from '../ratelimit/rate-limit-check.ts';
import type { RouteClass } from '../ratelimit/policy.ts';
import { authFailureResponse, type IntakeResponse } from '../payments/responses.ts';
import { isAuthFailure } from '../security/auth-failure.ts';
import { type Authenticator, type Caller, requireScope } from '../security/authenticate.ts';
import { authRequestOf } from './intake.ts';

export interface CallerGateOptions {
  readonly authenticate: Authenticator;
  readonly now: () => Date;
  /** The per-partner rate limit (src/ratelimit/); undefined = none. */
  readonly rateLimit?: RateLimitCheck | undefined;
}

/**
 * The authorised caller, or undefined when the refusal (401/403 with its challenge, or 429) has been sent.
 * `scope` undefined: any valid token will do.
 */
export async function authorisedCaller(
  request: FastifyRequest,
  reply: FastifyReply,
  options: CallerGateOptions,
  scope: string | undefined,
  routeClass: RouteClass,
): Promise<Caller | undefined> {
  const caller = await options.authenticate(authRequestOf(request, options.now()));
  if (isAuthFailure(caller)) {
    answer(reply, authFailureResponse(caller, FAPI_SIGNING_ALGORITHMS));
    return undefined;
  }
  const insufficientScope = scope === undefined ? undefined : requireScope(caller, scope);
  if (insufficientScope !== undefined) {
    answer(reply, authFailureResponse(insufficientScope, FAPI_SIGNING_ALGORITHMS), caller);
    return undefined;
  }
  const limited = await options.rateLimit?.(caller.clientId, routeClass);
  if (limited !== undefined) {
    answer(reply, limited, caller);
    return undefined;
  }
  return caller;
}

/** Sends an answer, with the fresher DPoP nonce the caller should use next when there is one. */
export function answer(reply: FastifyReply, response: IntakeResponse, caller?: Caller): FastifyReply {
  if (caller?.dpopNonce !== undefined) reply.header('dpop-nonce', caller.dpopNonce);
  return reply.code(response.status).headers(response.headers).send(response.body);
}
