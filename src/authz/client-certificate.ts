/**
 * How oidc-provider learns about the caller's client certificate: straight from the TLS socket of the mTLS
 * listener, never from a header. There is no proxy in front of us that could vouch for a forwarded certificate, so
 * a header would be an invitation to forge one.
 *
 * Only sockets accepted by the mTLS listener count. The issuer listener does not request a certificate today; the
 * check keeps a future change to its TLS options from silently turning it into a second mTLS endpoint.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { X509Certificate } from 'node:crypto';

import type { KoaContextWithOIDC } from 'oidc-provider';

import { canonicalDn } from '../partners/distinguished-name.ts';

export type MtlsConnectionTest = (socket: Socket) => boolean;

export function clientCertificateHelpers(isMtlsConnection: MtlsConnectionTest) {
  const mtlsSocket = (ctx: KoaContextWithOIDC): TLSSocket | undefined => {
    const socket = ctx.req.socket;
    return socket instanceof TLSSocket && isMtlsConnection(socket) ? socket : undefined;
  };

  const getCertificate = (ctx: KoaContextWithOIDC): X509Certificate | undefined =>
    mtlsSocket(ctx)?.getPeerX509Certificate();

  /** The listener verifies the chain against the partner CA during the handshake (rejectUnauthorized). */
  const certificateAuthorized = (ctx: KoaContextWithOIDC): boolean => mtlsSocket(ctx)?.authorized === true;

  /** We register partners by subject DN only; any other tls_client_auth_* property is a registration mistake. */
  const certificateSubjectMatches = (ctx: KoaContextWithOIDC, property: string, expected: string): boolean => {
    if (property !== 'tls_client_auth_subject_dn') return false;
    const certificate = getCertificate(ctx);
    if (certificate === undefined) return false;
    try {
      return canonicalDn(certificate.subject) === canonicalDn(expected);
    } catch {
      // A subject outside the DN subset we can compare exactly is not a match.
      return false;
    }
  };

  return { getCertificate, certificateAuthorized, certificateSubjectMatches };
}
