/**
 * The benchmark's partners and certificates: as many debtor banks as the run asks for (the dev registry has only
 * two that may write), one reader partner for the balance reads, and the creditor banks that are only ledger
 * participants. Made with the same createDevPki as `isogw certs` and the tests, so every certificate, key and
 * registry entry is what a real partner would have: each debtor bank authenticates at the token endpoint with
 * private_key_jwt and binds its tokens with DPoP, over its own mTLS client certificate.
 */
import { createDevPki, type DevPartnerSpec, type DevPkiFiles } from '../../src/certs/dev-pki.ts';

export interface BenchBank {
  /** 0-based; bank 0 is the hot one in contended runs. */
  readonly index: number;
  readonly clientId: string;
  readonly bic: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly signingKey: string;
}

export interface BenchPki {
  readonly files: DevPkiFiles;
  readonly debtors: readonly BenchBank[];
  /** Owns the two read-side accounts (1 k and 1 M postings); read scope only. */
  readonly reader: BenchBank & { readonly smallBic: string; readonly largeBic: string };
  /** Ledger-only participants that on-us payments credit. */
  readonly creditorBics: readonly string[];
}

/** More would need longer BIC codes than our two-letter scheme (26² = 676 per kind). */
export const BENCH_BANKS_MAX = 200;
export const READER_CLIENT_ID = 'bench-reader';
const READER_SMALL_BIC = 'RDSMDEFFXXX';
const READER_LARGE_BIC = 'RDLGDEFFXXX';

/** `BB` + two letters + `DEFFXXX`: valid ISO 9362 BICs in Germany, unused by anything else in the project. */
function bicFor(prefix: string, index: number): string {
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return `${prefix}${letters[Math.floor(index / 26)]}${letters[index % 26]}DEFFXXX`;
}

export function debtorBic(index: number): string {
  return bicFor('BB', index);
}

export function creditorBic(index: number): string {
  return bicFor('CR', index);
}

export async function createBenchPki(dir: string, debtorCount: number, creditorCount: number): Promise<BenchPki> {
  if (!Number.isInteger(debtorCount) || debtorCount < 1 || debtorCount > BENCH_BANKS_MAX) throw new RangeError(`debtor banks: 1..${BENCH_BANKS_MAX}`);
  if (!Number.isInteger(creditorCount) || creditorCount < 1 || creditorCount > BENCH_BANKS_MAX) throw new RangeError(`creditor banks: 1..${BENCH_BANKS_MAX}`);
  const specs: DevPartnerSpec[] = Array.from({ length: debtorCount }, (_, i) => ({
    clientId: `bench-bank-${String(i + 1).padStart(3, '0')}`,
    name: `Bench Bank ${i + 1}`,
    country: 'DE',
    bics: [debtorBic(i)],
    scopes: ['payments:write', 'payments:read'],
    tokenEndpointAuth: 'private_key_jwt',
    tokenBinding: 'dpop',
  }));
  specs.push({
    clientId: READER_CLIENT_ID,
    name: 'Bench Reader',
    country: 'DE',
    bics: [READER_SMALL_BIC, READER_LARGE_BIC],
    scopes: ['payments:read'],
    tokenEndpointAuth: 'private_key_jwt',
    tokenBinding: 'dpop',
  });
  const files = await createDevPki(dir, { partners: specs });
  const bank = (spec: DevPartnerSpec, index: number): BenchBank => {
    const partner = files.partners[spec.clientId];
    if (partner?.signingKey === undefined) throw new Error(`bench PKI: no files for ${spec.clientId}`);
    return { index, clientId: spec.clientId, bic: spec.bics[0]!, clientCert: partner.clientCert, clientKey: partner.clientKey, signingKey: partner.signingKey };
  };
  return {
    files,
    debtors: specs.slice(0, debtorCount).map(bank),
    reader: { ...bank(specs[debtorCount]!, debtorCount), smallBic: READER_SMALL_BIC, largeBic: READER_LARGE_BIC },
    creditorBics: Array.from({ length: creditorCount }, (_, i) => creditorBic(i)),
  };
}
