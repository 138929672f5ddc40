// Experiment (not part of npm run bench): the register micro-kernel alone — C[MR×NR] += A·B over kc = 256
// with both panels in L1 — for several tile shapes and both dtypes, in process CPU time. Shows the ceiling
// the packed GEMM kernels can reach on this machine, and which tile shape spills least.
//
//   npx tsx bench/experiments/microkernel.ts
type Arr = Float32Array | Float64Array;
type MicroKernel = (A: Arr, B: Arr, C: Arr, kc: number, reps: number) => void;

function microKernel(MR: number, NR: number): MicroKernel {
  const acc: string[] = [];
  const body: string[] = [];
  const sums: string[] = [];
  for (let i = 0; i < MR; i++) for (let j = 0; j < NR; j++) acc.push(`c${i}${j} = 0`);
  body.push(`const ${Array.from({ length: MR }, (_, i) => `a${i} = A[pa + ${i}]`).join(', ')};`);
  body.push(`const ${Array.from({ length: NR }, (_, j) => `b${j} = B[pb + ${j}]`).join(', ')};`);
  for (let i = 0; i < MR; i++) for (let j = 0; j < NR; j++) body.push(`c${i}${j} += a${i} * b${j};`);
  for (let i = 0; i < MR; i++) for (let j = 0; j < NR; j++) sums.push(`C[${i * NR + j}] += c${i}${j};`);
  return new Function(
    'A',
    'B',
    'C',
    'kc',
    'reps',
    `for (let r = 0; r < reps; r++) { let ${acc.join(', ')}; let pa = 0, pb = 0;
       for (let p = 0; p < kc; p++, pa += ${MR}, pb += ${NR}) { ${body.join('\n')} }
       ${sums.join('\n')} }`,
  ) as MicroKernel;
}

const kc = 256;
const shapes: [number, number, 'f32' | 'f64'][] = [
  [4, 4, 'f64'],
  [3, 4, 'f64'],
  [2, 4, 'f64'],
  [4, 2, 'f64'],
  [2, 8, 'f64'],
  [4, 8, 'f32'],
  [4, 4, 'f32'],
];
for (const [MR, NR, dt] of shapes) {
  const Ctor = dt === 'f64' ? Float64Array : Float32Array;
  const A = new Ctor(kc * MR).fill(1.0001);
  const B = new Ctor(kc * NR).fill(0.9999);
  const C = new Ctor(MR * NR);
  const k = microKernel(MR, NR);
  k(A, B, C, kc, 2000);
  const reps = Math.round(4e8 / (2 * MR * NR * kc));
  let best = 0;
  for (let t = 0; t < 3; t++) {
    const c0 = process.cpuUsage();
    k(A, B, C, kc, reps);
    const c = process.cpuUsage(c0);
    best = Math.max(best, (2 * MR * NR * kc * reps) / ((c.user + c.system) * 1e3));
  }
  process.stdout.write(`${MR}×${NR} ${dt}: ${best.toFixed(2)} GFLOP/s on CPU time\n`);
}
