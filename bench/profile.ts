// profile: run one emitted kernel in a loop under the V8 profiler and print where its time goes, line
// by line of the emitted code (the module is written to a file first, so profile lines are real lines).
//
//   node --allow-natives-syntax --import tsx bench/profile.ts conv-s1 backward_dX [--dtype=f32] [--naive] [--ms=3000]
//
// Programs: matmul256, matmul512, dense, conv-s1, conv-s2, maxpool. Writes bench/.prof/<program>-<kernel>.mjs
// and the .cpuprofile next to it, then prints the hottest lines with their source.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Session } from 'node:inspector/promises';
import ts from 'typescript';
import { emit } from '../src/codegen/compile.js';
import { uniform } from './lib/data.js';
import { MATMUL_SOURCE } from './groups/matmul.js';
import { CONV_SHAPES, CONV_SOURCE } from './groups/conv.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const layer = (f: string) => readFileSync(join(here, '..', 'examples', 'layers', `${f}.dg`), 'utf8');

interface Setup {
  source: string;
  sizes: Record<string, number>;
  shapes: Record<string, number[]>;
}

function setupOf(program: string): Setup {
  if (program.startsWith('matmul')) {
    const n = Number(program.slice(6)) || 512;
    return { source: MATMUL_SOURCE, sizes: { M: n, K: n, N: n }, shapes: { A: [n, n], B: [n, n], Y: [n, n], dY: [n, n], dA: [n, n], dB: [n, n] } };
  }
  if (program === 'dense') {
    const [N, D, F] = [128, 784, 256];
    return { source: layer('affine_relu'), sizes: { N, D, F }, shapes: { X: [N, D], W: [F, D], b: [F], Y: [N, F], dY: [N, F], dX: [N, D], dW: [F, D], db: [F] } };
  }
  if (program === 'conv-s1' || program === 'conv-s2') {
    const s = CONV_SHAPES[program.slice(5) as 's1' | 's2'];
    const Ho = Math.floor((s.H + 2 * s.P - s.R) / s.T) + 1;
    const Wo = Math.floor((s.W + 2 * s.P - s.S) / s.T) + 1;
    const x = [s.N, s.C, s.H, s.W];
    const y = [s.N, s.F, Ho, Wo];
    const k = [s.F, s.C, s.R, s.S];
    return { source: CONV_SOURCE, sizes: { ...s }, shapes: { X: x, K: k, b: [s.F], Y: y, dY: y, dX: x, dK: k, db: [s.F] } };
  }
  if (program === 'maxpool') {
    const x = [32, 16, 28, 28];
    const y = [32, 16, 14, 14];
    return { source: layer('maxpool2d'), sizes: { N: 32, C: 16, H: 28, W: 28 }, shapes: { X: x, Y: y, Y_argmax: y, dY: y, dX: x } };
  }
  throw new Error(`unknown program ${program}`);
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  hitCount: number;
  positionTicks?: { line: number; ticks: number }[];
}

async function main(argv: string[]) {
  const [program, kernelName] = argv;
  if (!program || !kernelName) throw new Error('usage: profile.ts <program> <kernel> [--dtype=f32|f64] [--naive] [--ms=3000]');
  const dt = (argv.find((a) => a.startsWith('--dtype='))?.slice(8) ?? 'f64') as 'f32' | 'f64';
  const optimize = !argv.includes('--naive');
  const ms = Number(argv.find((a) => a.startsWith('--ms='))?.slice(5) ?? 3000);
  const st = setupOf(program);
  const text = emit(st.source, { dtype: dt === 'f32' ? 'float32' : 'float64', optimize });
  const js = ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const dir = join(here, '.prof');
  mkdirSync(dir, { recursive: true });
  const base = `${program}-${kernelName}-${dt}${optimize ? '' : '-naive'}`;
  const file = join(dir, `${base}.mjs`);
  writeFileSync(file, js);
  const mod = (await import(pathToFileURL(file).href)) as Record<string, (t: unknown, s: unknown) => void>;
  const k = mod[kernelName];
  if (!k) throw new Error(`no ${kernelName} in the module (has ${Object.keys(mod).join(', ')})`);
  const t: Record<string, Float32Array | Float64Array | Int32Array> = {};
  let seed = 100;
  for (const [name, shape] of Object.entries(st.shapes)) {
    const d = uniform(seed++, shape);
    t[name] = name.endsWith('_argmax') ? new Int32Array(d.f64.length) : d[dt];
  }
  if (mod.forward_Y && kernelName !== 'forward_Y') mod.forward_Y(t, st.sizes); // Y and arg-max records for backward
  for (let i = 0; i < 20; i++) k(t, st.sizes); // optimized at function entry, not only on-stack-replaced

  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  // the calling loop must not inline the kernel (its samples would then belong to the caller)
  const loop = new Function('k', 't', 's', 'ms', 'let calls = 0; const t0 = performance.now(); while (performance.now() - t0 < ms) { k(t, s); calls++; } return calls;') as (
    k: unknown,
    t: unknown,
    s: unknown,
    ms: number,
  ) => number;
  try {
    new Function('f', '%NeverOptimizeFunction(f)')(loop);
  } catch {
    process.stderr.write('run with node --allow-natives-syntax, or the kernel may be inlined into the loop and its lines lost\n');
  }
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const calls = loop(k, t, st.sizes, ms);
  const elapsed = performance.now() - t0;
  const cu = process.cpuUsage(c0);
  const cpuMs = (cu.user + cu.system) / 1000;
  const { profile } = (await session.post('Profiler.stop')) as { profile: { nodes: ProfileNode[] } };
  writeFileSync(join(dir, `${base}.cpuprofile`), JSON.stringify(profile));
  session.disconnect();

  const lines = js.split('\n');
  const byLine = new Map<number, number>();
  let total = 0;
  let inKernel = 0;
  for (const n of profile.nodes) {
    total += n.hitCount;
    if (n.callFrame.url.endsWith(`${base}.mjs`)) {
      inKernel += n.hitCount;
      for (const p of n.positionTicks ?? []) byLine.set(p.line, (byLine.get(p.line) ?? 0) + p.ticks);
    }
  }
  const hot = [...byLine].sort((a, b) => b[1] - a[1]).slice(0, 14);
  process.stdout.write(
    `${base}: ${calls} calls in ${elapsed.toFixed(0)} ms → ${(elapsed / calls).toFixed(2)} ms/call wall, ${(cpuMs / calls).toFixed(2)} ms/call CPU (core share ${(cpuMs / elapsed).toFixed(2)}); ` +
      `${((100 * inKernel) / Math.max(total, 1)).toFixed(0)}% of samples in the module\n`,
  );
  for (const [line, ticks] of hot) process.stdout.write(`${((100 * ticks) / Math.max(inKernel, 1)).toFixed(1).padStart(5)}%  ${String(line).padStart(4)}: ${lines[line - 1]?.trim()}\n`);
  // where the time goes by part of a packed-GEMM kernel (markers in the emitted code)
  const sections = new Map<string, number>();
  let section = 'setup / direct loops';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.includes('// pack B')) section = 'pack B';
    else if (l.includes('// pack A')) section = 'pack A';
    else if (/for \(let \$jr = /.test(l)) section = 'micro-kernel';
    else if (/\$t\[0\] = /.test(l) || /const \$i0 = /.test(l)) section = 'tile store';
    else if (/^export function /.test(l)) section = 'setup / direct loops';
    const ticks = byLine.get(i + 1);
    if (ticks) sections.set(section, (sections.get(section) ?? 0) + ticks);
  }
  if (sections.size > 1)
    process.stdout.write(
      'by part: ' +
        [...sections]
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${((100 * v) / Math.max(inKernel, 1)).toFixed(0)}% (${((cpuMs / calls) * (v / Math.max(inKernel, 1))).toFixed(1)} ms CPU)`)
          .join(', ') +
        '\n',
    );
  process.stdout.write(`(module: ${file})\n`);
  for (const f of readdirSync(dir)) if (f.endsWith('.tmp')) rmSync(join(dir, f));
}

await main(process.argv.slice(2));
