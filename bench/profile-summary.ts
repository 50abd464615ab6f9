// Summarises a V8 .cpuprofile (node --cpu-prof) as self time per function and per package, so the
// README's "where the time goes" comes from a command. bench/run.ts calls it with BENCH_PROFILE=1;
// standalone: npx tsx bench/profile-summary.ts <file.cpuprofile> [top]
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
  if (url.startsWith('node:')) return 'node (built-in modules)';
  for (const root of ['/src/', '/bench/', '/test/']) {
    const at = url.lastIndexOf(root);
    if (at !== -1) return url.slice(at + 1);
  }
  return url === '' ? '(native / V8 builtins)' : url;
}

export function summarizeProfile(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    totalUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const owner = ownerOf(frame);
    const name = `${frame.functionName || '(anonymous)'}  ${owner}${frame.url && !SPECIAL.has(owner) ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const pct = (us: number) => `${((100 * us) / busyUs).toFixed(1).padStart(5)}%`;
  const ms = (us: number) => `${Math.round(us / 1000)}`.padStart(7);
  const lines = [
    `profile ${path.basename(file)}: ${Math.round(totalUs / 1000)} ms sampled, ${Math.round(busyUs / 1000)} ms on the main thread's CPU (idle excluded); % of that busy time`,
    '',
    'self time by package / file:',
    ...[...byOwner].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([owner, us]) => `  ${pct(us)} ${ms(us)} ms  ${owner}`),
    '',
    `top ${top} functions by self time:`,
    ...[...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => `  ${pct(us)} ${ms(us)} ms  ${name}`),
  ];
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${summarizeProfile(file, top ? Number(top) : 25)}\n`);
}
