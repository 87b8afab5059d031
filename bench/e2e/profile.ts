/**
 * Where the gateway's CPU went: a V8 CPU profile (`node --cpu-prof`, written by the gateway child when it exits)
 * reduced to self time per function and per module group (our src/ directories, each npm package, Node internals,
 * garbage collection, idle). Self time = the samples in which the function itself was on top of the stack.
 *
 * Native frames (a socket's writev, which for a TLS socket includes the encryption; a WebCrypto job) have no
 * script of their own: they are charged to the nearest caller in our code or a package (pg, ioredis, jose…), marked
 * `(native)`, so the table says whose native work it was. Samples are wall-clock time of the main thread: on a saturated machine a
 * system call that waits for a core shows as self time of its frame.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  readonly file: string;
  /** Sampled time, all of it (idle included), in milliseconds. */
  readonly totalMs: number;
  /** Sampled time the process was busy (not `(idle)`), in milliseconds. */
  readonly busyMs: number;
  readonly topFunctions: { readonly name: string; readonly where: string; readonly selfMs: number; readonly shareOfBusy: number }[];
  readonly groups: { readonly group: string; readonly selfMs: number; readonly shareOfBusy: number }[];
}

/** How many functions the summary lists. */
export const PROFILE_TOP_FUNCTIONS = 25;

export function summariseProfileDirectory(dir: string): ProfileSummary | null {
  const file = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile')).sort().pop();
  return file === undefined ? null : summariseProfile(join(dir, file));
}

export function summariseProfile(file: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  /**
   * Whose native work it was: the nearest ancestor from our code or a package (not Node's own stream plumbing),
   * else the nearest one with any script.
   */
  const scriptedCaller = (id: number): ProfileNode['callFrame'] | undefined => {
    let nearest: ProfileNode['callFrame'] | undefined;
    for (let at = parentOf.get(id); at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame === undefined || frame.url === '') continue;
      nearest ??= frame;
      if (!frame.url.startsWith('node:')) return frame;
    }
    return nearest;
  };
  const selfById = new Map<number, number>();
  profile.samples.forEach((id, i) => selfById.set(id, (selfById.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const functions = new Map<string, { name: string; where: string; micros: number }>();
  const groups = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, micros] of selfById) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    total += micros;
    if (frame.functionName === '(idle)') {
      idle += micros;
      continue;
    }
    const caller = frame.url === '' && !frame.functionName.startsWith('(') ? scriptedCaller(id) : undefined;
    const where = caller === undefined ? locationOf(frame.url, frame.lineNumber) : `native, from ${locationOf(caller.url, caller.lineNumber)}`;
    const key = `${frame.functionName}@${where}`;
    const entry = functions.get(key) ?? { name: frame.functionName || '(anonymous)', where, micros: 0 };
    entry.micros += micros;
    functions.set(key, entry);
    const group = caller === undefined ? groupOf(frame.functionName, frame.url) : `${groupOf(caller.functionName, caller.url)} (native)`;
    groups.set(group, (groups.get(group) ?? 0) + micros);
  }
  const busy = total - idle;
  return {
    file,
    totalMs: total / 1000,
    busyMs: busy / 1000,
    topFunctions: [...functions.values()]
      .sort((a, b) => b.micros - a.micros)
      .slice(0, PROFILE_TOP_FUNCTIONS)
      .map((f) => ({ name: f.name, where: f.where, selfMs: f.micros / 1000, shareOfBusy: f.micros / busy })),
    groups: [...groups.entries()].sort((a, b) => b[1] - a[1]).map(([group, micros]) => ({ group, selfMs: micros / 1000, shareOfBusy: micros / busy })),
  };
}

function locationOf(url: string, line: number): string {
  if (url === '') return '(native)';
  const path = url.replace(/^file:\/\//, '');
  const inRepo = path.indexOf('/node_modules/');
  const short = inRepo >= 0 ? path.slice(inRepo + 1) : path.includes('/src/') ? path.slice(path.indexOf('/src/') + 1) : path;
  return `${short}:${line + 1}`;
}

/** src/<dir>, an npm package, node:internal, or the V8 pseudo-frames ((garbage collector), (program)). */
function groupOf(functionName: string, url: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const src = url.indexOf('/src/');
  if (src >= 0) {
    const rest = url.slice(src + 1).split('/');
    return rest.length > 2 ? `${rest[0]}/${rest[1]}` : `${rest[0]}/${rest[1] ?? ''}`;
  }
  if (url.startsWith('node:')) return 'node:internal';
  return url;
}
