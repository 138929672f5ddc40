// Experiment (not part of npm run bench): where the first generateLibrary() call (derive + emit every layer
// of generated/) spends its time — self time by package and inclusive time of the main phases.
//
//   npx tsx bench/experiments/generate-profile.ts
import { Session } from 'node:inspector/promises';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });
const t0 = performance.now();
const { generateLibrary } = await import('../../src/codegen/generateLibrary.js');
const importMs = performance.now() - t0;
await session.post('Profiler.start');
const c0 = process.cpuUsage();
const t1 = performance.now();
generateLibrary();
const wall = performance.now() - t1;
const cu = process.cpuUsage(c0);
const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: { nodes: Node[]; samples: number[]; timeDeltas: number[] } };
session.disconnect();

const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
const where = (url: string) => {
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const own = /\/work\/[^/]+\/[^/]+\/(src\/[^/]+)\//.exec(url) ?? /(src\/[^/]+)\//.exec(url);
  return own ? own[1]! : url || '(vm)';
};
const byPackage = new Map<string, number>();
for (const n of profile.nodes) byPackage.set(where(n.callFrame.url), (byPackage.get(where(n.callFrame.url)) ?? 0) + (self.get(n.id) ?? 0));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const inclusive = (id: number): number => (self.get(id) ?? 0) + (byId.get(id)?.children ?? []).reduce((a, c) => a + inclusive(c), 0);
const phases = ['check', 'differentiate', 'lowerStatement', 'createSourceFile', 'addStatements', 'addFunctions', 'addFunction', 'getFullText', 'format', 'formatSync'];
const phase = new Map<string, number>();
const walk = (id: number, seen: ReadonlySet<string>) => {
  const n = byId.get(id)!;
  let next = seen;
  if (phases.includes(n.callFrame.functionName) && !seen.has(n.callFrame.functionName)) {
    phase.set(n.callFrame.functionName, (phase.get(n.callFrame.functionName) ?? 0) + inclusive(id));
    next = new Set([...seen, n.callFrame.functionName]);
  }
  for (const c of n.children ?? []) walk(c, next);
};
walk(profile.nodes[0]!.id, new Set());

process.stdout.write(`import ${importMs.toFixed(0)} ms; first generateLibrary(): ${wall.toFixed(0)} ms wall, ${((cu.user + cu.system) / 1000).toFixed(0)} ms CPU (all threads)\n`);
process.stdout.write('self time of the main thread by package (ms):\n');
for (const [k, v] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 10)) process.stdout.write(`  ${v.toFixed(0).padStart(6)}  ${k}\n`);
process.stdout.write(`inclusive time of phases (ms): ${[...phase].map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}\n`);
process.stdout.write('(make-synchronized is @prettier/sync: the main thread waiting for its formatting worker)\n');
