/**
 * Which URLs a partner may register and which addresses the sender may connect to: the server-side request forgery
 * boundary. Tables, so a missing range shows up as one failing row.
 */
import { describe, expect, it } from 'vitest';

import { checkEndpointUrl, isPublicAddress } from '../../src/webhooks/endpoint-url.ts';
import { WEBHOOK_LIMITS } from '../../src/webhooks/limits.ts';

const production = { allowInsecureEndpoints: false };
const development = { allowInsecureEndpoints: true };

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', 'public IPv4'],
    ['1.1.1.1', 'public IPv4'],
    ['100.63.255.255', 'just below CGNAT'],
    ['100.128.0.0', 'just above CGNAT'],
    ['172.15.255.255', 'just below 172.16/12'],
    ['172.32.0.0', 'just above 172.16/12'],
    ['192.167.255.255', 'just below 192.168/16'],
    ['169.253.255.255', 'just below link-local'],
    ['223.255.255.255', 'just below multicast'],
    ['2606:4700:4700::1111', 'public IPv6'],
    ['2a00:1450:4001:80b::200e', 'public IPv6'],
    ['::ffff:8.8.8.8', 'IPv4-mapped public'],
    ['::ffff:808:808', 'IPv4-mapped public, hex form'],
    ['64:ff9b::808:808', 'NAT64 of a public address'],
    ['2002:808:808::1', '6to4 of a public address'],
  ])('%s is public (%s)', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });

  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', '"this network" 0/8'],
    ['10.0.0.1', 'RFC 1918 10/8'],
    ['10.255.255.255', 'RFC 1918 10/8'],
    ['172.16.0.1', 'RFC 1918 172.16/12'],
    ['172.31.255.254', 'RFC 1918 172.16/12'],
    ['192.168.1.1', 'RFC 1918 192.168/16'],
    ['100.64.0.1', 'CGNAT 100.64/10'],
    ['100.127.255.255', 'CGNAT 100.64/10'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback 127/8'],
    ['169.254.169.254', 'cloud metadata (link-local)'],
    ['169.254.0.1', 'link-local'],
    ['192.0.0.170', 'IETF protocol assignments'],
    ['192.0.2.1', 'TEST-NET-1'],
    ['198.51.100.7', 'TEST-NET-2'],
    ['203.0.113.9', 'TEST-NET-3'],
    ['198.18.0.1', 'benchmarking'],
    ['192.88.99.1', '6to4 relay anycast'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast (SSDP)'],
    ['240.0.0.1', 'reserved class E'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'IPv6 unspecified'],
    ['::1', 'IPv6 loopback'],
    ['0:0:0:0:0:0:0:1', 'IPv6 loopback, long form'],
    ['fe80::1', 'IPv6 link-local'],
    ['febf:ffff::1', 'IPv6 link-local, top of fe80::/10'],
    ['fec0::1', 'IPv6 site-local (deprecated)'],
    ['fc00::1', 'IPv6 unique local'],
    ['fd12:3456:789a::1', 'IPv6 unique local'],
    ['ff02::1', 'IPv6 multicast'],
    ['ff05::1:3', 'IPv6 multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped metadata, hex form'],
    ['::ffff:192.168.0.1', 'IPv4-mapped private'],
    ['::127.0.0.1', 'IPv4-compatible (deprecated)'],
    ['64:ff9b::7f00:1', 'NAT64 of loopback'],
    ['64:ff9b::169.254.169.254', 'NAT64 of metadata'],
    ['64:ff9b:1::1', 'local-use NAT64'],
    ['2002:a00:1::1', '6to4 of 10.0.0.1'],
    ['2002:7f00:1::1', '6to4 of loopback'],
    ['2001:db8::1', 'IPv6 documentation'],
    ['3fff::1', 'IPv6 documentation (RFC 9637)'],
    ['2001::1', 'Teredo'],
    ['2001:2::1', 'IPv6 benchmarking'],
    ['100::1', 'IPv6 discard-only'],
    ['fe80::1%eth0', 'IPv6 with a zone id'],
    ['localhost', 'not an address'],
    ['example.com', 'not an address'],
    ['', 'empty'],
    ['1.2.3', 'not a full address'],
    ['010.0.0.1', 'octal-looking'],
    ['[::1]', 'bracketed'],
  ])('%s is not public (%s)', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });
});

describe('checkEndpointUrl', () => {
  it.each([
    'https://hooks.example.com/isogw',
    'https://hooks.example.com:8443/isogw?partner=alpha',
    'https://8.8.8.8/hooks',
    'https://[2606:4700:4700::1111]/hooks',
    'https://bücher.example/hooks',
  ])('accepts %s in production', (url) => {
    expect(checkEndpointUrl(url, production)).toMatchObject({ ok: true });
  });

  it('answers the normalised URL to store', () => {
    const check = checkEndpointUrl('HTTPS://Hooks.Example.COM:443/a b?x=1', production);
    expect(check.ok && check.url.href).toBe('https://hooks.example.com/a%20b?x=1');
    const idn = checkEndpointUrl('https://bücher.example/', production);
    expect(idn.ok && idn.url.hostname).toBe('xn--bcher-kva.example');
  });

  it.each([
    ['http://hooks.example.com/', /https/],
    ['ftp://hooks.example.com/', /https/],
    ['hooks.example.com/path', /absolute URL/],
    ['/hooks', /absolute URL/],
    ['', /absolute URL/],
    ['https://', /absolute URL/],
    ['https://user:pass@hooks.example.com/', /user name or password/],
    ['https://user@hooks.example.com/', /user name or password/],
    ['https://hooks.example.com/#frag', /fragment/],
    ['https://hooks.example.com/#', /fragment/],
    ['https://127.0.0.1/', /not a public/],
    ['https://10.0.0.5/hooks', /not a public/],
    ['https://169.254.169.254/latest/meta-data/', /not a public/],
    ['https://0x7f.1/', /not a public/],
    ['https://2130706433/', /not a public/],
    ['https://0/', /not a public/],
    ['https://[::1]/', /not a public/],
    ['https://[::ffff:169.254.169.254]/', /not a public/],
    ['https://[fd00::1]/', /not a public/],
    ['https://[fe80::1]/', /not a public/],
    ['https://localhost/', /internal name/],
    ['https://localhost./', /internal name/],
    ['https://LOCALHOST:8443/', /internal name/],
    ['https://api.localhost/', /internal name/],
    ['https://printer.local/', /internal name/],
    ['https://metadata.google.internal/computeMetadata/v1/', /internal name/],
    ['https://intranet/', /fully qualified/],
  ])('refuses %s in production', (url, reason) => {
    const check = checkEndpointUrl(url, production);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.reason).toMatch(reason);
  });

  it('gives a sentence as the reason', () => {
    const check = checkEndpointUrl('http://hooks.example.com/', production);
    expect(!check.ok && check.reason).toMatch(/^The URL .*\.$/);
  });

  it(`refuses a URL longer than ${WEBHOOK_LIMITS.urlMaxChars} characters, also once normalised`, () => {
    const base = 'https://hooks.example.com/';
    expect(checkEndpointUrl(base + 'a'.repeat(WEBHOOK_LIMITS.urlMaxChars - base.length), production).ok).toBe(true);
    expect(checkEndpointUrl(base + 'a'.repeat(WEBHOOK_LIMITS.urlMaxChars - base.length + 1), production)).toMatchObject({ ok: false, reason: expect.stringMatching(/longer than 2048/) });
    // 400 characters as written, 2400 once percent-encoded (é is %C3%A9)
    expect(checkEndpointUrl(base + 'é'.repeat(400), production)).toMatchObject({ ok: false, reason: expect.stringMatching(/once normalised/) });
  });

  describe('in development (allowInsecureEndpoints)', () => {
    it.each(['http://127.0.0.1:3000/hooks', 'http://127.1.2.3/hooks', 'http://localhost:8080/hooks', 'http://[::1]:9000/hooks', 'https://localhost:8443/hooks', 'https://10.0.0.5/hooks', 'https://hooks.example.com/'])(
      'accepts %s',
      (url) => {
        expect(checkEndpointUrl(url, development)).toMatchObject({ ok: true });
      },
    );

    it.each([
      ['http://hooks.example.com/', /loopback/],
      ['http://10.0.0.5/', /loopback/],
      ['http://[::ffff:127.0.0.1]/', /loopback/],
      ['ftp://127.0.0.1/', /https/],
      ['http://user@127.0.0.1/', /user name/],
      ['http://127.0.0.1/#x', /fragment/],
    ])('refuses %s', (url, reason) => {
      const check = checkEndpointUrl(url, development);
      expect(!check.ok && check.reason).toMatch(reason);
    });
  });
});
