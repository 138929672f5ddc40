// Experiment (not part of npm run bench): the WebAssembly GEMM macro-kernel printed from loop IR
// (src/target/wasm/microModules.ts) against the hand-built one it replaced (buildMicroKernel.ts, whose
// bytes are taken from git: the module hex embedded in generated/affine.ts (float64) and in the
// float32 affine_relu snapshot, at the last commit that still had buildMicroKernel.ts). Both modules
// get the same packed panels and compute one GEMM block, mc × nc × kc = 64 × 512 × 256 (gemm.ts's
// MC, NC, KC), per call. Old and new are timed interleaved in one process, their order rotating each
// round; medians of GFLOP/s on process CPU time and on wall time, and the median of the rounds' ratios.
// Both C blocks are compared, bit for bit.
//
//   npx tsx bench/experiments/wasm-microkernel.ts [rounds=15]
import { execFileSync } from 'node:child_process';
import { microModuleBytes } from '../../src/target/wasm/microModules.js';
import { BLOCKING } from '../../src/lower/gemmBlocks.js';

type Run = (ap: number, bp: number, c: number, mc: number, nc: number, kc: number, ldc: number) => void;
const WA = (globalThis as unknown as { WebAssembly: { Instance: new (m: object) => { exports: object }; Module: new (b: Uint8Array) => object } }).WebAssembly;

const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', maxBuffer: 1 << 26 }).trim();
/** the last commit with the hand-built kernels: the one before their deletion, or HEAD while they exist */
function oldRev(): string {
  const deleted = git('log', '-1', '--format=%H', '--diff-filter=D', '--', 'src/codegen/buildMicroKernel.ts');
  return deleted ? `${deleted}^` : 'HEAD';
}
function oldBytes(dtype: 'float32' | 'float64'): Uint8Array {
  const file = dtype === 'float64' ? 'generated/affine.ts' : 'test/codegen/__snapshots__/affine_relu.float32.ts';
  const hex = /const hex =\s*'([0-9a-f]+)'/.exec(git('show', `${oldRev()}:${file}`))?.[1];
  if (!hex) throw new Error(`no module hex in ${file}`);
  return Uint8Array.from({ length: hex.length / 2 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rounds = Number(process.argv[2] ?? 15);

for (const dtype of ['float64', 'float32'] as const) {
  const { MC, KC, NC } = BLOCKING[dtype];
  const es = dtype === 'float64' ? 8 : 4;
  const Arr = dtype === 'float64' ? Float64Array : Float32Array;
  const pages = Math.ceil(((MC * KC + KC * NC + MC * NC) * es) / 65536);
  const [ap, bp, cp] = [0, MC * KC * es, (MC * KC + KC * NC) * es];
  const kernels = (['old', 'new'] as const).map((name) => {
    const bytes = name === 'old' ? oldBytes(dtype) : microModuleBytes(dtype, pages);
    const { run, memory } = new WA.Instance(new WA.Module(bytes)).exports as { run: Run; memory: { buffer: ArrayBuffer } };
    const mem = new Arr(memory.buffer);
    let seed = 12345;
    for (let i = 0; i < MC * KC + KC * NC; i++) mem[i] = ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    return { name, run, mem, cpu: [] as number[], wall: [] as number[] };
  });
  const call = (k: (typeof kernels)[number]) => k.run(ap, bp, cp, MC, NC, KC, NC * es);
  const flops = 2 * MC * NC * KC;
  // warm up (tier-up to the optimising compiler), then size a sample to ~50 ms
  for (const k of kernels) for (let i = 0; i < 200; i++) call(k);
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) call(kernels[0]!);
  const reps = Math.max(1, Math.round((50 / (performance.now() - t0)) * 20));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? kernels : [...kernels].reverse();
    for (const k of order) {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      for (let i = 0; i < reps; i++) call(k);
      const wall = performance.now() - w0;
      const cpu = process.cpuUsage(c0);
      k.cpu.push((flops * reps) / ((cpu.user + cpu.system) * 1e3));
      k.wall.push((flops * reps) / (wall * 1e6));
    }
  }
  const [o, n] = kernels as [(typeof kernels)[number], (typeof kernels)[number]];
  const same = o.mem.subarray(cp / es, cp / es + MC * NC).every((x, i) => Object.is(x, n.mem[cp / es + i]));
  const line = (k: typeof o) => `${k.name} ${median(k.cpu).toFixed(2)} GFLOP/s cpu, ${median(k.wall).toFixed(2)} wall`;
  // the median of each round's new/old ratio: the two samples of a round share the machine's load
  const paired = median(n.cpu.map((x, r) => x / o.cpu[r]!));
  console.log(`${dtype} ${MC}×${NC}×${KC}, ${rounds} rounds × ${reps} calls: ${line(o)} | ${line(n)}`);
  console.log(`  new/old: ${(median(n.cpu) / median(o.cpu)).toFixed(3)} cpu, ${(median(n.wall) / median(o.wall)).toFixed(3)} wall, ${paired.toFixed(3)} paired per round (cpu) | C blocks ${same ? 'equal bit for bit' : 'DIFFER'}`);
}
