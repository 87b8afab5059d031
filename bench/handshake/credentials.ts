/**
 * bank-alpha's credentials, obtained for real: an access token from the authorization server's token endpoint
 * (client_credentials, private_key_jwt client authentication signed with bank-alpha's registered key, a DPoP proof
 * binding the token to a fresh ES256 key), and then DPoP proofs for the gateway signed with that key — in batches,
 * before the requests that use them, never inside a timed interval (BENCHMARKING.md trap 6).
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

import * as jose from 'jose';
import { Agent, fetch } from 'undici';

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const CLIENT_ID = 'bank-alpha';

export interface DpopCredentials {
  readonly accessToken: string;
  /** `DPoP <token>` */
  readonly authorization: string;
  /** Fresh proofs (unique jti, iat now) for `method htu`, bound to the access token (ath). */
  proofs(count: number, method: string, htu: string): Promise<string[]>;
}

export async function obtainDpopCredentials(options: {
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly caPem: string;
  /** bank-alpha's private signing JWK file (from the dev PKI). */
  readonly signingKeyFile: string;
}): Promise<DpopCredentials> {
  const signingJwk = JSON.parse(readFileSync(options.signingKeyFile, 'utf8')) as jose.JWK;
  const signingAlg = signingJwk.alg ?? 'ES256';
  const signingKey = await jose.importJWK(signingJwk, signingAlg);
  const dpop = await jose.generateKeyPair('ES256');
  const dpopJwk = await jose.exportJWK(dpop.publicKey);

  const sign = (claims: jose.JWTPayload, method: string, htu: string): Promise<string> =>
    new jose.SignJWT({ ...claims, htm: method, htu })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: dpopJwk })
      .setJti(randomUUID())
      .setIssuedAt()
      .sign(dpop.privateKey);

  const assertion = await new jose.SignJWT({})
    .setProtectedHeader({ alg: signingAlg, ...(signingJwk.kid === undefined ? {} : { kid: signingJwk.kid }) })
    .setIssuer(CLIENT_ID)
    .setSubject(CLIENT_ID)
    .setAudience(options.issuer)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(signingKey);

  const agent = new Agent({ connect: { ca: options.caPem } });
  let answer: { status: number; body: Record<string, unknown> };
  try {
    const response = await fetch(options.tokenEndpoint, {
      method: 'POST',
      dispatcher: agent,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        dpop: await sign({}, 'POST', options.tokenEndpoint),
      },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'payments:read',
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: assertion,
      }).toString(),
    });
    answer = { status: response.status, body: (await response.json()) as Record<string, unknown> };
  } finally {
    await agent.close();
  }
  const accessToken = answer.body.access_token;
  if (answer.status !== 200 || typeof accessToken !== 'string' || String(answer.body.token_type).toLowerCase() !== 'dpop') {
    throw new Error(`token request refused: ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  const ath = createHash('sha256').update(accessToken).digest('base64url');
  return {
    accessToken,
    authorization: `DPoP ${accessToken}`,
    proofs: (count, method, htu) => Promise.all(Array.from({ length: count }, () => sign({ ath }, method, htu))),
  };
}
