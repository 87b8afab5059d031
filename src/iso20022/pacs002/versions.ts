/** The pacs.002 message versions we ship schemas for (pacs.002.001.NN). */
export const PACS002_VERSIONS = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16] as const;

/** One of {@link PACS002_VERSIONS}. */
export type Pacs002Version = (typeof PACS002_VERSIONS)[number];

/**
 * pacs.008 version → pacs.002 version of the same ISO 20022 maintenance release.
 *
 * Derived from the generator timestamp on line 2 of each official XSD: paired schemas
 * were generated in the same run (same date, mostly the same second). Two releases break
 * the "pacs.002 = pacs.008 + 1" pattern:
 *  - 2017 published pacs.002.001.08 alone (no pacs.008 that year);
 *  - so pacs.008.001.07 (2018-02-07) pairs with pacs.002.001.09 (2018-02-07), not .08.
 * From 2019 on (pacs.008.001.08 → pacs.002.001.10) the offset is +2.
 */
const PACS002_FOR_PACS008: ReadonlyMap<number, Pacs002Version> = new Map<number, Pacs002Version>([
  [1, 2], // 2006
  [2, 3], // 2009
  [3, 4], // 2012
  [4, 5], // 2013
  [5, 6], // 2015
  [6, 7], // 2016
  [7, 9], // 2018
  [8, 10], // 2019
  [9, 11], // 2020
  [10, 12], // 2021
  [11, 13], // 2023
  [12, 14], // 2024
  [13, 15], // 2025
  [14, 16], // 2026
]);

/** Whether `value` is one of {@link PACS002_VERSIONS}. */
export function isPacs002Version(value: unknown): value is Pacs002Version {
  return (PACS002_VERSIONS as readonly unknown[]).includes(value);
}

/**
 * The pacs.002 version to answer a pacs.008 of the given version with: the one from the
 * same ISO maintenance release, so both sides were built against the same code sets.
 *
 * @param pacs008Version - the NN of pacs.008.001.NN (1–14).
 * @throws TypeError for a pacs.008 version we have no schema pairing for.
 */
export function pacs002VersionFor(pacs008Version: number): Pacs002Version {
  const version = PACS002_FOR_PACS008.get(pacs008Version);
  if (version === undefined) {
    throw new TypeError(
      `pacs002VersionFor: no pacs.002 pairing for pacs.008.001.${String(pacs008Version)} ` +
        `(supported pacs.008 versions: ${[...PACS002_FOR_PACS008.keys()].join(', ')})`,
    );
  }
  return version;
}

/** The pacs.008 versions {@link pacs002VersionFor} knows, ascending. */
export const PAIRED_PACS008_VERSIONS: readonly number[] = [...PACS002_FOR_PACS008.keys()];
