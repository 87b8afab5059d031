/**
 * Which URLs a partner may register as a webhook endpoint, and which addresses the sender may connect to.
 *
 * The gateway POSTs to whatever URL a partner registers, from inside our network: without these rules an endpoint
 * is a server-side request forgery primitive (cloud metadata at 169.254.169.254, the database on 10.x, an admin
 * port on localhost). Registration refuses what is visibly internal (IP literals, internal names); the sender's DNS
 * guard (sender.ts) refuses at connect time any name that resolves to an internal address, which also defeats DNS
 * rebinding because the check is on the address actually connected to.
 *
 * Development (allowInsecureEndpoints) allows plain http, but only to the loopback host, where test receivers live.
 */
import { isIPv4, isIPv6 } from 'node:net';

import { WEBHOOK_LIMITS } from './limits.ts';

export type EndpointUrlCheck = { readonly ok: true; readonly url: URL } | { readonly ok: false; readonly reason: string };

/** Host names that never point at a partner's public server (RFC 6761 localhost, mDNS .local, private-use .internal). */
const INTERNAL_NAME = /(^|\.)(localhost|local|internal)$/;

/**
 * Registration-time rules. `reason` is a human sentence for the API's error_description. On success, `url` is the
 * WHATWG-normalised URL (hex/decimal IPv4 forms, IDN hosts and IPv6 spellings already canonical): store its `href`.
 */
export function checkEndpointUrl(text: string, options: { readonly allowInsecureEndpoints: boolean }): EndpointUrlCheck {
  const max = WEBHOOK_LIMITS.urlMaxChars;
  if (text.length > max) return refuse(`The URL is longer than ${max} characters.`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return refuse('The URL is not a valid absolute URL.');
  }
  // Normalisation can lengthen a URL (percent-encoding, punycode); the stored form must fit as well.
  if (url.href.length > max) return refuse(`The URL is longer than ${max} characters once normalised.`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return refuse('The URL must use https.');
  if (url.username !== '' || url.password !== '') return refuse('The URL must not contain a user name or password.');
  if (url.href.includes('#')) return refuse('The URL must not contain a fragment (#…).');
  const host = hostOf(url);
  if (host === '') return refuse('The URL must name a host.');

  if (options.allowInsecureEndpoints) {
    if (url.protocol === 'http:' && !isLoopbackHost(host)) return refuse('The URL must use https (plain http is allowed only to a loopback host in development).');
    return { ok: true, url };
  }

  if (url.protocol !== 'https:') return refuse('The URL must use https.');
  if (isIPv4(host) || isIPv6(host)) {
    return isPublicAddress(host) ? { ok: true, url } : refuse(`The URL's host ${host} is not a public internet address.`);
  }
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (INTERNAL_NAME.test(name)) return refuse(`The URL's host ${host} is an internal name.`);
  // A single-label name resolves through the resolver's search domains, i.e. to something inside our network.
  if (!name.includes('.')) return refuse(`The URL's host ${host} is not a fully qualified domain name.`);
  return { ok: true, url };
}

/** True when an address (v4 or v6 text) may be connected to in production. Anything that is not an address: false. */
export function isPublicAddress(address: string): boolean {
  if (isIPv4(address)) return isPublicV4(parseV4(address));
  // A zone id (fe80::1%eth0) only exists on link-local scopes.
  if (isIPv6(address) && !address.includes('%')) return isPublicV6(parseV6(address));
  return false;
}

/** http is tolerated in development for these only: the receiver is on this machine. */
function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === 'localhost.') return true;
  if (isIPv4(host)) return inRange(BigInt(parseV4(host)), V4_LOOPBACK);
  return isIPv6(host) && parseV6(host) === 1n;
}

function refuse(reason: string): EndpointUrlCheck {
  return { ok: false, reason };
}

/** url.hostname without the brackets of an IPv6 literal. */
function hostOf(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

interface Cidr {
  readonly base: bigint;
  readonly prefix: number;
  readonly bits: 32 | 128;
}

function inRange(value: bigint, cidr: Cidr): boolean {
  const shift = BigInt(cidr.bits - cidr.prefix);
  return value >> shift === cidr.base >> shift;
}

function v4(text: string): Cidr {
  const [address = '', prefix = ''] = text.split('/');
  return { base: BigInt(parseV4(address)), prefix: Number(prefix), bits: 32 };
}

function v6(text: string): Cidr {
  const [address = '', prefix = ''] = text.split('/');
  return { base: parseV6(address), prefix: Number(prefix), bits: 128 };
}

const V4_LOOPBACK = v4('127.0.0.0/8');

/** IANA IPv4 Special-Purpose Address Registry entries that are not globally reachable, plus multicast and class E. */
const V4_NOT_PUBLIC: readonly Cidr[] = [
  '0.0.0.0/8', // "this network", including the unspecified 0.0.0.0
  '10.0.0.0/8', // RFC 1918
  '100.64.0.0/10', // shared address space (carrier-grade NAT)
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local, including cloud metadata 169.254.169.254
  '172.16.0.0/12', // RFC 1918
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // TEST-NET-1
  '192.88.99.0/24', // 6to4 relay anycast (deprecated)
  '192.168.0.0/16', // RFC 1918
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // TEST-NET-2
  '203.0.113.0/24', // TEST-NET-3
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, including broadcast 255.255.255.255
].map(v4);

/** Global unicast: everything a public IPv6 server can have lives here (RFC 4291; the rest is unassigned or special). */
const V6_GLOBAL_UNICAST = v6('2000::/3');

/** Inside 2000::/3 but not a public destination. */
const V6_NOT_PUBLIC: readonly Cidr[] = [
  '2001::/23', // IETF protocol assignments, including Teredo 2001::/32
  '2001:db8::/32', // documentation
  '3fff::/20', // documentation (RFC 9637)
].map(v6);

/** Prefixes that embed an IPv4 address, judged by that address: where the packet really goes. */
const V6_MAPPED = v6('::ffff:0:0/96'); // IPv4-mapped: a dual-stack socket connects to the v4 address itself
const V6_NAT64 = v6('64:ff9b::/96'); // well-known NAT64 prefix (RFC 6052)
const V6_6TO4 = v6('2002::/16'); // 6to4: the v4 address is bits 16–47

function isPublicV4(address: number): boolean {
  const value = BigInt(address);
  return !V4_NOT_PUBLIC.some((cidr) => inRange(value, cidr));
}

function isPublicV6(value: bigint): boolean {
  if (inRange(value, V6_MAPPED) || inRange(value, V6_NAT64)) return isPublicV4(Number(value & 0xffff_ffffn));
  if (inRange(value, V6_6TO4)) return isPublicV4(Number((value >> 80n) & 0xffff_ffffn));
  return inRange(value, V6_GLOBAL_UNICAST) && !V6_NOT_PUBLIC.some((cidr) => inRange(value, cidr));
}

/** Dotted-quad text (already checked by isIPv4) → unsigned 32-bit value. */
function parseV4(text: string): number {
  const octets = text.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new TypeError(`not an IPv4 address: ${text}`);
  return octets.reduce((value, octet) => value * 256 + octet, 0);
}

/** IPv6 text (already checked by isIPv6, no zone id) → 128-bit value; handles `::` and a dotted IPv4 tail. */
function parseV6(text: string): bigint {
  const groupsOf = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').flatMap((group) => {
      if (group.includes('.')) {
        const value = parseV4(group);
        return [value >>> 16, value & 0xffff];
      }
      return [Number.parseInt(group, 16)];
    });
  };
  const halves = text.split('::');
  if (halves.length > 2) throw new TypeError(`not an IPv6 address: ${text}`);
  const head = groupsOf(halves[0] ?? '');
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? '') : [];
  const groups = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) throw new TypeError(`not an IPv6 address: ${text}`);
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}
