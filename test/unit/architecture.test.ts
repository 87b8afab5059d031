/**
 * House rules that code review alone would let drift: src/iso20022 stays pure (publishable alone: no framework,
 * no network, no file system), and no module imports itself back through a cycle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(SRC, f));

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? '');
}

const FORBIDDEN_IN_DOMAIN = /^(node:(fs|net|http|https|http2|tls|child_process|dgram|dns|worker_threads)|fs|fastify|@fastify\/|pg|ioredis|undici|oidc-provider|jose)(\/|$)/;

describe('architecture', () => {
  it('src/iso20022 imports no framework, network or file-system module', () => {
    const offenders = files
      .filter((f) => f.startsWith(join(SRC, 'iso20022')))
      .flatMap((f) => importsOf(f).filter((i) => FORBIDDEN_IN_DOMAIN.test(i)).map((i) => `${f.slice(SRC.length)} imports ${i}`));
    expect(offenders).toEqual([]);
  });

  it('src/iso20022 imports nothing from the rest of src', () => {
    const offenders = files
      .filter((f) => f.startsWith(join(SRC, 'iso20022')))
      .flatMap((f) => importsOf(f).filter((i) => i.startsWith('.') && !resolve(dirname(f), i).startsWith(join(SRC, 'iso20022'))).map((i) => `${f.slice(SRC.length)} imports ${i}`));
    expect(offenders).toEqual([]);
  });

  it('has no import cycles', () => {
    const graph = new Map(files.map((f) => [f, importsOf(f).filter((i) => i.startsWith('.')).map((i) => resolve(dirname(f), i))]));
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (file: string, trail: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].map((f) => f.slice(SRC.length)).join(' → '));
        return;
      }
      state.set(file, 'visiting');
      for (const next of graph.get(file) ?? []) visit(next, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
