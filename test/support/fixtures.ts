/** Shared test support: fixture discovery, the schemas on disk and the clock the fixtures were written for. */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { schemaSetFromDisk } from '../../src/config/xsd-files.ts';
import { checkPacs008, type CheckOptions, type CheckResult } from '../../src/iso20022/index.ts';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const XSD = fileURLToPath(new URL('../../xsd/', import.meta.url));

/** Every fixture was written for this moment (created on 2026-11-21 before 18:00 UTC, settling that day). */
export const FIXTURE_CLOCK = new Date('2026-11-21T18:00:00Z');

export const schemas = schemaSetFromDisk();

/** Relative paths (e.g. `accept/versions/pacs.008.001.08--bare-document.xml`) of the XML files below `dir`. */
export function fixtureFiles(dir: string): string[] {
  return readdirSync(`${FIXTURES}${dir}`, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.xml'))
    .map((f) => `${dir}/${f}`)
    .sort();
}

export function readFixture(file: string): Buffer {
  return readFileSync(`${FIXTURES}${file}`);
}

export function check(bytes: Uint8Array | string, options: Partial<CheckOptions> = {}): CheckResult {
  const input = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  return checkPacs008(input, { schemas, now: FIXTURE_CLOCK, ...options });
}
