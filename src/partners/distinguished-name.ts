/**
 * Distinguished names compared by meaning, not by spelling: `CN=a,O=B,C=DE` (RFC 4514, most specific first) and
 * Node's `X509Certificate.subject` (`C=DE\nO=B\nCN=a`, certificate order) name the same subject.
 *
 * We only accept the subset our partner registry needs: single-valued RDNs whose values contain none of the
 * characters RFC 4514 would escape. A registry entry outside that subset is refused at boot rather than compared
 * loosely at request time.
 */
const ATTRIBUTE = /^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)+)=(.+)$/;
const ESCAPED_CHARACTERS = /[\\"+;<>#=]/;

/** A canonical key for equality: attribute types upper-cased, RDNs sorted, values exact (case matters in O/CN). */
export function canonicalDn(dn: string): string {
  const separator = dn.includes('\n') ? '\n' : ',';
  const rdns = dn.split(separator).map((part) => part.trim()).filter((part) => part !== '');
  if (rdns.length === 0) throw new Error('empty distinguished name');
  const pairs = rdns.map((rdn) => {
    const match = ATTRIBUTE.exec(rdn);
    if (!match) throw new Error(`"${rdn}" is not an attribute=value pair`);
    const type = match[1]!.toUpperCase();
    const value = match[3]!.trim();
    if (ESCAPED_CHARACTERS.test(value)) throw new Error(`value "${value}" needs RFC 4514 escaping, which is not supported`);
    return `${type}=${value}`;
  });
  return pairs.sort().join(',');
}
