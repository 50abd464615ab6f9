// Summarises a V8 .cpuprofile (node --cpu-prof) as self time per function and per package, so the
// README's "where the time goes" comes from a command. bench/run.ts calls it with BENCH_PROFILE=1;
// standalone: npx tsx bench/profile-summary.ts <file.cpuprofile> [top] [from-function]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** Where a function lives: a package name, a src/ or bench/ file, node internals, or a V8 bucket. */
export function ownerOf(frame: CallFrame): string {
  if (SPECIAL.has(frame.functionName) && frame.url === '') return frame.functionName;
  const url = frame.url.replace(/^file:\/\//, '');
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith('node:internal/deps/undici')) return 'undici (node:internal, fetch/Request/Response)';
  if (url.startsWith('node:internal/webstreams')) return 'node:internal/webstreams';
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').replace(/\/.*$/, '');
  for (const root of ['/src/', '/bench/', '/test/']) {
    const at = url.lastIndexOf(root);
    if (at !== -1) return url.slice(at + 1);
  }
  return url === '' ? '(native / V8 builtins)' : url;
}

export interface SummaryOptions {
  /** How many functions each list shows. */
  top?: number;
  /** Skip samples until one has this function on its stack (e.g. the first request, to leave start-up out). */
  from?: string;
  /** Requests served in the window, to print busy time per request. */
  requests?: number;
}

/** The summary text, or null when no sample falls in the window (e.g. a thread that only ran at start-up). */
export function summarizeProfile(file: string, { top = 25, from, requests }: SummaryOptions = {}): string | null {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  let idleUs = 0;
  let totalUs = 0;
  let started = from === undefined;
  profile.samples.forEach((id, i) => {
    if (!started) {
      for (let at: number | undefined = id; at !== undefined && !started; at = parentOf.get(at)) started = byId.get(at)!.callFrame.functionName === from;
      if (!started) return;
    }
    const us = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)!.callFrame;
    totalUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      return;
    }
    const owner = ownerOf(frame);
    add(byFunction, `${frame.functionName || '(anonymous)'}  ${owner}${owner.startsWith('src/') || !frame.url ? '' : `:${frame.lineNumber + 1}`}`, us);
    // Package view: a native builtin (a socket write, JSON.parse) is charged to the JS code that called it.
    let charged = owner;
    for (let at = parentOf.get(id); charged === '(native / V8 builtins)' && at !== undefined; at = parentOf.get(at)) {
      const caller = byId.get(at)!.callFrame;
      if (caller.url) charged = ownerOf(caller);
    }
    add(byOwner, charged, us);
    // Total time of the gateway's own functions: a sample counts once for every src/ function on its stack.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const caller = byId.get(at)!.callFrame;
      const callerOwner = ownerOf(caller);
      if (!callerOwner.startsWith('src/')) continue;
      const name = `${caller.functionName || '(anonymous)'}  ${callerOwner}`;
      if (!seen.has(name)) add(inclusive, name, us);
      seen.add(name);
    }
  });

  const busyUs = totalUs - idleUs;
  const pct = (us: number) => `${((100 * us) / busyUs).toFixed(1).padStart(5)}%`;
  const ms = (us: number) => `${Math.round(us / 1000)}`.padStart(7);
  const list = (map: Map<string, number>, count: number) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, count).map(([name, us]) => `  ${pct(us)} ${ms(us)} ms  ${name}`);
  if (totalUs === 0) return null;
  return [
    `profile ${path.basename(file)}: ${Math.round(totalUs / 1000)} ms sampled${from ? ` from the first call of ${from} on` : ''}, ` +
      `${Math.round(busyUs / 1000)} ms busy (idle excluded)` +
      `${requests ? `, ${Math.round(busyUs / requests)} µs of non-idle time of this thread per request (${requests} requests)` : ''}; % of busy time`,
    '',
    'self time by package / file (native builtins charged to their JS caller):',
    ...list(byOwner, 20),
    '',
    `top ${top} functions by self time:`,
    ...list(byFunction, top),
    '',
    `top ${top} gateway (src/) functions by total time, callees included (for async functions, only the slices on the stack):`,
    ...list(inclusive, top),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [file, top, from] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top] [from-function]\n');
    process.exit(2);
  }
  process.stdout.write(`${summarizeProfile(file, { top: top ? Number(top) : 25, from }) ?? `no samples${from ? ` after the first call of ${from}` : ''}`}\n`);
}
