/**
 * Every bound of the operator's page (src/operator/), named once with its unit: the page is read-only, but a page
 * that lists "everything" or reads an unbounded body is still a way to hurt the gateway it watches.
 */
export const OPERATOR_LIMITS = Object.freeze({
  /** Lifetime of a browser session cookie, in seconds: short, because a stateless session cannot be revoked. */
  sessionTtlSeconds: 15 * 60,
  /** Of the login form's body, in bytes (one token field). */
  loginBodyBytesMax: 4 * 1024,
  /** Of a filter value (UETR, MsgId, BIC), in characters; MsgId is Max35Text, so anything longer matches nothing. */
  filterValueCharsMax: 64,
  /** Payments per page of the recent-payments list. */
  paymentsPageSize: 50,
  /** Dead letters listed on the webhooks page, newest first, over all endpoints. */
  deadLettersListMax: 100,
  /** Dead letters looked at per endpoint for that list (a lateral top-N over its index). */
  deadLettersPerEndpointMax: 100,
  /** Deliveries per page of one endpoint's list. */
  endpointDeliveriesPageSize: 50,
  /** Accounts listed on the balances page (participants × currencies × kinds, plus the gateway's own). */
  accountsListMax: 2_000,
  /** Participants listed on the balances page. */
  participantsListMax: 1_000,
});
