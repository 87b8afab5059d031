/**
 * Every bound the resource-server side of FAPI 2.0 enforces, named once with its unit. These are defaults; the
 * gateway config may tighten them but the tests pin the defaults.
 */
export const SECURITY_LIMITS = Object.freeze({
  /** Tolerated clock difference between us and the authorization server for exp/nbf/iat of access tokens. */
  accessTokenClockSkewSeconds: 10,
  /** An access token whose iat lies further in the past than this is refused even if exp says otherwise. */
  accessTokenAgeMaxSeconds: 3600,
  /** How old a DPoP proof's iat may be (RFC 9449 §11.1: "a relatively short time"). */
  dpopProofAgeMaxSeconds: 60,
  /** How far in the future a DPoP proof's iat may be (client clocks run ahead). */
  dpopProofFutureSkewSeconds: 10,
  /** A jti is remembered this long: it covers the whole window in which its proof is acceptable. */
  dpopJtiRetentionSeconds: 60 + 10 + 10,
  /** jti values longer than this are refused instead of being stored. */
  dpopJtiLengthMax: 128,
  /** Size caps on credential headers, refused before any parsing or crypto. */
  authorizationHeaderBytesMax: 8192,
  dpopHeaderBytesMax: 8192,
  /** Server nonces rotate this often; the current and the previous one are accepted. */
  dpopNonceRotationSeconds: 300,
  /** JWKS: refetched at most this often when a token names an unknown kid (jose cooldown). */
  jwksRefetchCooldownSeconds: 30,
  /** JWKS: a key set older than this is refetched on the next verification. */
  jwksCacheMaxAgeSeconds: 600,
  /** JWKS: give up fetching after this long (then fail closed: 503). */
  jwksFetchTimeoutMs: 5000,
  /** Redis round trip for the jti replay check; past this we fail closed (503). */
  replayStoreTimeoutMs: 1000,
});
export type SecurityLimits = typeof SECURITY_LIMITS;
