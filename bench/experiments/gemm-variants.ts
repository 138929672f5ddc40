// Experiment (not part of npm run bench): whole packed-GEMM kernels in the shape gemm.ts emits, with one
// knob changed at a time — tile shape, k-loop unroll, KC choice, tile store, scratch reuse — timed on
// matmul 256³/512³ and the dense-layer shapes, in process CPU time per call (medians).
//
//   ROUNDS=9 npx tsx bench/experiments/gemm-variants.ts [f64|f32] [variant,variant…] [shape,shape…]
//
// Variants are timed interleaved (round by round), so a busy minute hits all of them alike: compare
// within a row. What it showed (f64, 9 rounds): module scratch, direct tile store and `| 0` indices each
// +3–8 %, all together (`allor`, what gemm.ts emits) +10–17 %; 4×8, 2×4, 8×4 tiles, one buffer for both
// panels and a k-loop unrolled ×2 within the noise or slower.
type Arr = Float32Array | Float64Array;
interface V {
  name: string;
  MR: number;
  NR: number;
  U: number; // k-loop unroll
  balancedKC: boolean;
  direct: boolean; // full tiles stored straight from the accumulators
  scratch: boolean; // module-level packing buffers
  or: boolean;
  one: boolean; // A and B panels in one scratch array
 // `| 0` on the micro-kernel's index arithmetic
  KC: number;
  MC: number;
  NC: number;
}
const base: V = { name: 'base', MR: 4, NR: 4, U: 1, balancedKC: false, direct: false, scratch: false, or: false, one: false, KC: 256, MC: 64, NC: 512 };

// operand element code: A(i,k), B(k,j); transposes as in the dense kernels
interface Shape { name: string; M: number; N: number; K: number; a: string; b: string; aLen: number; bLen: number }
const shapes: Shape[] = [
  { name: 'mm256', M: 256, N: 256, K: 256, a: 'A[$i * K + $k]', b: 'B[$k * N + $j]', aLen: 256 * 256, bLen: 256 * 256 },
  { name: 'mm512', M: 512, N: 512, K: 512, a: 'A[$i * K + $k]', b: 'B[$k * N + $j]', aLen: 512 * 512, bLen: 512 * 512 },
  // dense fwd: Y[n,f] = X[n,d] W[f,d]  (M=128, N=256, K=784)
  { name: 'dfwd', M: 128, N: 256, K: 784, a: 'A[$i * K + $k]', b: 'B[$j * K + $k]', aLen: 128 * 784, bLen: 256 * 784 },
  // dense dX: dX[n,d] = dY[n,f] W[f,d]  (M=128, N=784, K=256)
  { name: 'ddX', M: 128, N: 784, K: 256, a: 'A[$i * K + $k]', b: 'B[$k * N + $j]', aLen: 128 * 256, bLen: 256 * 784 },
  // dense dW: dW[f,d] = dY[n,f] X[n,d]  (M=256, N=784, K=128)
  { name: 'ddW', M: 256, N: 784, K: 128, a: 'A[$k * M + $i]', b: 'B[$k * N + $j]', aLen: 128 * 256, bLen: 128 * 784 },
];

function gen(v: V, sh: Shape, arr: string): string {
  const { MR, NR, U, MC, NC } = v;
  const L: string[] = [];
  const acc = (i: number, j: number) => `$c${i}_${j}`;
  if (v.scratch) L.push(`let $ApS = new ${arr}(0), $BpS = new ${arr}(0);`);
  L.push(`return function (A, B, Y, M, N, K) {`);
  L.push(`const $t = new Float64Array(${MR * NR});`);
  if (v.balancedKC) L.push(`const $KC = Math.ceil(K / Math.max(1, Math.ceil(K / ${v.KC})));`);
  else L.push(`const $KC = ${v.KC};`);
  const apLen = `${MC} * $KC`;
  const bpLen = `$KC * Math.ceil(Math.min(${NC}, N) / ${NR}) * ${NR}`;
  if (v.one) {
    L.push(`const $B0 = ${apLen};`);
    L.push(`if ($ApS.length < $B0 + ${bpLen}) $ApS = new ${arr}($B0 + ${bpLen});`);
    L.push(`const $Ap = $ApS, $Bp = $ApS;`);
  } else if (v.scratch) {
    L.push(`if ($ApS.length < ${apLen}) $ApS = new ${arr}(${apLen});`);
    L.push(`if ($BpS.length < ${bpLen}) $BpS = new ${arr}(${bpLen});`);
    L.push(`const $Ap = $ApS, $Bp = $BpS;`);
  } else {
    L.push(`const $Ap = new ${arr}(${apLen});`);
    L.push(`const $Bp = new ${arr}(${bpLen});`);
  }
  L.push(`for (let $jc = 0; $jc < N; $jc += ${NC}) {`);
  L.push(`  const $nc = Math.min(${NC}, N - $jc);`);
  L.push(`  for (let $pc = 0; $pc < K; $pc += $KC) {`);
  L.push(`    const $kc = Math.min($KC, K - $pc);`);
  L.push(`    const $first = $pc === 0; const $last = $pc + $kc >= K;`);
  L.push(`    let $q = ${v.one ? '$B0' : '0'};`);
  L.push(`    for (let $jp = 0; $jp < $nc; $jp += ${NR}) for (let $p = 0; $p < $kc; $p++) { const $k = $pc + $p;`);
  L.push(`      for (let $jj = 0; $jj < ${NR}; $jj++) { const $j = $jc + $jp + $jj; $Bp[$q++] = $jp + $jj < $nc ? ${sh.b} : 0; } }`);
  L.push(`    for (let $ic = 0; $ic < M; $ic += ${MC}) {`);
  L.push(`      const $mc = Math.min(${MC}, M - $ic);`);
  L.push(`      let $r = 0;`);
  L.push(`      for (let $ip = 0; $ip < $mc; $ip += ${MR}) for (let $p = 0; $p < $kc; $p++) { const $k = $pc + $p;`);
  L.push(`        for (let $ii = 0; $ii < ${MR}; $ii++) { const $i = $ic + $ip + $ii; $Ap[$r++] = $ip + $ii < $mc ? ${sh.a} : 0; } }`);
  L.push(`      for (let $jr = 0; $jr < $nc; $jr += ${NR}) {`);
  L.push(`        for (let $ir = 0; $ir < $mc; $ir += ${MR}) {`);
  const accs: string[] = [];
  for (let i = 0; i < MR; i++) for (let j = 0; j < NR; j++) accs.push(`${acc(i, j)} = 0`);
  L.push(`          let ${accs.join(', ')};`);
  L.push(`          let $pa = $ir * $kc, $pb = ${v.one ? '$B0 + ' : ''}$jr * $kc;`);
  const step = (o: number) => {
    L.push(`            { const ${Array.from({ length: MR }, (_, i) => `$a${i} = $Ap[${v.or ? `($pa + ${o * MR + i}) | 0` : `$pa + ${o * MR + i}`}]`).join(', ')};`);
    L.push(`              const ${Array.from({ length: NR }, (_, j) => `$b${j} = $Bp[${v.or ? `($pb + ${o * NR + j}) | 0` : `$pb + ${o * NR + j}`}]`).join(', ')};`);
    for (let i = 0; i < MR; i++) L.push(`              ${Array.from({ length: NR }, (_, j) => `${acc(i, j)} += $a${i} * $b${j};`).join(' ')}`);
    L.push(`            }`);
  };
  L.push(`          let $p = 0;`);
  if (U > 1) {
    L.push(`          for (; $p + ${U - 1} < $kc; $p += ${U}, $pa += ${U * MR}, $pb += ${U * NR}) {`);
    for (let o = 0; o < U; o++) step(o);
    L.push(`          }`);
  }
  L.push(`          for (; $p < $kc; $p++, $pa += ${MR}, $pb += ${NR}) {`);
  step(0);
  L.push(`          }`);
  const general = () => {
    L.push(`            ${Array.from({ length: MR * NR }, (_, q) => `$t[${q}] = ${acc(Math.floor(q / NR), q % NR)};`).join(' ')}`);
    L.push(`            const $mi = Math.min(${MR}, $mc - $ir), $nj = Math.min(${NR}, $nc - $jr);`);
    L.push(`            for (let $ii = 0; $ii < $mi; $ii++) { const $row = ($ic + $ir + $ii) * N;`);
    L.push(`              for (let $jj = 0, $q = $ii * ${NR}; $jj < $nj; $jj++, $q++) { const $o = $row + $jc + $jr + $jj;`);
    L.push(`                const $c = ($first ? 0 : Y[$o]) + $t[$q]; Y[$o] = $c; } }`);
  };
  if (v.direct) {
    L.push(`          if ($ir + ${MR} <= $mc && $jr + ${NR} <= $nc) {`);
    L.push(`            const $o0 = ($ic + $ir) * N + $jc + $jr;`);
    L.push(`            if ($first) {`);
    for (let i = 0; i < MR; i++) L.push(`              ${Array.from({ length: NR }, (_, j) => `Y[$o0${i ? ` + ${i} * N` : ''} + ${j}] = ${acc(i, j)};`).join(' ')}`);
    L.push(`            } else {`);
    for (let i = 0; i < MR; i++) L.push(`              ${Array.from({ length: NR }, (_, j) => `Y[$o0${i ? ` + ${i} * N` : ''} + ${j}] += ${acc(i, j)};`).join(' ')}`);
    L.push(`            }`);
    L.push(`          } else {`);
    general();
    L.push(`          }`);
  } else general();
  L.push(`        }`);
  L.push(`      }`);
  L.push(`    }`);
  L.push(`  }`);
  L.push(`}`);
  L.push(`};`);
  return L.join('\n');
}

const dt = (process.argv[2] ?? 'f64') as 'f64' | 'f32';
const Ctor = dt === 'f64' ? Float64Array : Float32Array;
const arr = dt === 'f64' ? 'Float64Array' : 'Float32Array';
const variants: Record<string, Partial<V>> = {
  base: {},
  scratch: { scratch: true },
  direct: { direct: true },
  bal: { balancedKC: true },
  u2: { U: 2 },
  u4: { U: 4 },
  or: { or: true },
  allor: { scratch: true, direct: true, balancedKC: true, or: true },
  t48allor: { MR: 4, NR: 8, scratch: true, direct: true, balancedKC: true, or: true },
  oneor: { scratch: true, direct: true, balancedKC: true, or: true, one: true },
  allor_u2: { scratch: true, direct: true, balancedKC: true, or: true, U: 2 },
  t48oneor: { MR: 4, NR: 8, scratch: true, direct: true, balancedKC: true, or: true, one: true },
  t24allor: { MR: 2, NR: 4, scratch: true, direct: true, balancedKC: true, or: true },
  all: { scratch: true, direct: true, balancedKC: true },
  all_u2: { scratch: true, direct: true, balancedKC: true, U: 2 },
  t48: { MR: 4, NR: 8 },
  t48all: { MR: 4, NR: 8, scratch: true, direct: true, balancedKC: true },
  t28all: { MR: 2, NR: 8, scratch: true, direct: true, balancedKC: true },
  t38all: { MR: 3, NR: 8, scratch: true, direct: true, balancedKC: true },
  t34all: { MR: 3, NR: 4, scratch: true, direct: true, balancedKC: true },
  t84all: { MR: 8, NR: 4, scratch: true, direct: true, balancedKC: true },
  t44kc128: { scratch: true, direct: true, balancedKC: true, KC: 128 },
  t48kc128: { MR: 4, NR: 8, scratch: true, direct: true, balancedKC: true, KC: 128 },
};
const pick = process.argv[3]?.split(',') ?? Object.keys(variants);
const only = process.argv[4]?.split(',');
const rand = (n: number) => {
  const a = new Ctor(n);
  let s = 1;
  for (let i = 0; i < n; i++) a[i] = ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
  return a;
};
const ref = new Map<string, Arr>();
const rounds = Number(process.env.ROUNDS ?? 7);
for (const sh of shapes) {
  if (only && !only.includes(sh.name)) continue;
  const A = rand(sh.aLen), B = rand(sh.bLen);
  const flops = 2 * sh.M * sh.N * sh.K;
  const reps = Math.max(2, Math.round(6e7 / flops));
  const fs = pick.map((name) => {
    const v = { ...base, ...variants[name]!, name };
    const f = new Function(gen(v, sh, arr))() as (A: Arr, B: Arr, Y: Arr, M: number, N: number, K: number) => void;
    const Y = new Ctor(sh.M * sh.N);
    for (let w = 0; w < 3; w++) f(A, B, Y, sh.M, sh.N, sh.K);
    const r = ref.get(sh.name);
    if (!r) ref.set(sh.name, Y.slice());
    else for (let q = 0; q < Y.length; q++) if (Math.abs(Y[q]! - r[q]!) > 1e-3 * (1 + Math.abs(r[q]!))) throw new Error(`${name} ${sh.name} wrong at ${q}`);
    return { name, f, Y, ts: [] as number[] };
  });
  for (let round = 0; round < rounds; round++)
    for (const x of fs)
      for (let t = 0; t < reps; t++) {
        const c0 = process.cpuUsage();
        x.f(A, B, x.Y, sh.M, sh.N, sh.K);
        const c = process.cpuUsage(c0);
        x.ts.push((c.user + c.system) / 1e3);
      }
  const line: string[] = [sh.name.padEnd(6)];
  for (const x of fs) {
    x.ts.sort((p, q) => p - q);
    const med = x.ts[Math.floor(x.ts.length / 2)]!;
    line.push(`${x.name} ${(flops / med / 1e6).toFixed(2)}`);
  }
  process.stdout.write(line.join('  ') + '\n');
}
// register-only core check, as in the bench
{
  const f = new Function('n', 'let a0=1,a1=1,a2=1,a3=1,a4=1,a5=1,a6=1,a7=1; const m=1.0000001; for(let i=0;i<n;i++){a0*=m;a1*=m;a2*=m;a3*=m;a4*=m;a5*=m;a6*=m;a7*=m;} return a0+a1+a2+a3+a4+a5+a6+a7;') as (n: number) => number;
  f(1e6);
  const c0 = process.cpuUsage();
  f(1e8);
  const c = process.cpuUsage(c0);
  process.stdout.write(`core check ${(8e8 / ((c.user + c.system) * 1e3)).toFixed(2)} GFLOP/s\n`);
}
