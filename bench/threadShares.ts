// threadShares: where the MNIST CNN training step's time goes, kernel by kernel, on one thread, and
// how compile(src, { threads: 2 }) shares each kernel out — Amdahl's bound for the step on 2 threads.
//
//   npx tsx bench/threadShares.ts [--batch=32] [--rounds=20] [--dtype=f64] [--stat=median|min] [--show=backward_dW3]
//
// It lowers the program twice, with copying kernels and as threads run it, and times in one process,
// interleaved: each kernel of the copying module (its WebAssembly kernels copying their tensors in
// and out, as compile() runs them where memories cannot be shared), the threads' module as one part
// over one WebAssembly memory (compile() without threads in Node: in place), and each share (part 0
// and part 1 of 2) as a thread runs it, one after the other on this thread. A split kernel on 2 free
// cores takes about its larger share, a whole one its whole time: their sum over the step against
// the in-place step is the best 2 threads can do (barriers and the copies in and out of the call
// not counted). --show prints a kernel's code.
// On a loaded machine --stat=min (each timing's fastest round) is the steadier estimate.
import { cnnProgram } from '../examples/models/compiled.js';
import { differentiate } from '../src/diff/differentiate.js';
import { check } from '../src/ir/check.js';
import { lowerProgram } from '../src/pipeline.js';
import { microModuleText } from '../src/target/micro.js';
import { CLAIMS_KEY } from '../src/opt/splitParallelLoop.js';
import { printModule } from '../src/target/module.js';
import { median } from './lib/timing.js';

const arg = (name: string, d: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? d;
const batch = Number(arg('batch', '32'));
const rounds = Number(arg('rounds', '20'));
const dtype = arg('dtype', 'f64') === 'f32' ? 'float32' : 'float64';

const source = cnnProgram({ image: 28, f1: 8, f2: 16, classes: 10 });
const program = check(source);
const grads = differentiate(program, { unitScalarSeeds: false, steps: false, wrt: ['K1', 'b1', 'K2', 'b2', 'W3', 'b3'] });
const known = new Map<string, number>(program.sizes.flatMap((z) => (z.default !== undefined ? [[z.name, z.default] as const] : [])));
known.set('N', batch);
const lower = (threads: boolean) => lowerProgram(program, grads, { dtype, optimize: true, simd: true, micro: microModuleText, sizes: known, threads });
type Fns = Record<string, (t: unknown, s: unknown) => void> & { shapes(s: unknown): Record<string, number[]> };
const plain = lower(false);
const threaded = lower(true);
const WA = (globalThis as unknown as { WebAssembly: { Memory: new (d: object) => { buffer: ArrayBuffer } } }).WebAssembly;

/** Every array of the step, in `buffer` (or fresh), with the same values each time. */
function arrays(fns: Fns, memory?: { buffer: ArrayBuffer }) {
  const info = plain.info;
  const shapes = fns.shapes(Object.fromEntries(known));
  const elems = (n: string) => (shapes[n] ?? shapes[n.replace(/^d/, '')] ?? shapes[n.replace(/_argmax$/, '')] ?? []).reduce((a, b) => a * b, 1);
  const temporaries = [...new Set(Object.values(info.temporaries ?? {}).flat())];
  const real = [...info.inputs, ...info.intermediates, ...info.outputs, ...(info.scratch ?? []), ...info.seeds, ...info.gradients, ...temporaries];
  const Arr = dtype === 'float32' ? Float32Array : Float64Array;
  const t: Record<string, Float32Array | Float64Array | Int32Array> = {};
  let at = 64;
  const make = <A>(Of: new (b: ArrayBuffer, o: number, n: number) => A, n: number, bytes: number): A => {
    const view = new Of(memory!.buffer, at, n);
    at += Math.ceil((n * bytes + 64) / 16) * 16;
    return view;
  };
  for (const n of real) {
    const a = memory ? make(Arr as typeof Float64Array, elems(n), Arr.BYTES_PER_ELEMENT) : new Arr(elems(n));
    for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.37 + n.length) * 0.3;
    t[n] = a;
  }
  for (const r of info.records) t[r] = memory ? make(Int32Array, elems(r), 4) : new Int32Array(elems(r));
  // the threaded module's claim words (a GEMM's blocks are claimed as the threads run)
  if (memory && threaded.info.claims) t[CLAIMS_KEY] = make(Int32Array, threaded.info.claims, 4);
  return t;
}

const fnsOne = new Function(printModule(plain, 'js-body'))() as Fns;
const memory = new WA.Memory({ initial: 1024, maximum: 1024, shared: true });
const fnsTwo = new Function('$memory', printModule(threaded, 'js-body', { sharedMemory: true }))(memory) as Fns;
const tOne = arrays(fnsOne);
const tTwo = arrays(fnsTwo, memory);
const sizes = Object.fromEntries(known);
// A kernel that claims its loop's iterations: its claim word, and its trip count on 2 threads (part 0
// alone takes them all). Timed as a part of 2, it finds the other part's even share already taken.
const claims = tTwo[CLAIMS_KEY] as Int32Array | undefined;
const claimOf = new Map<string, { slot: number; trips: number }>();
for (const k of threaded.forward.concat(threaded.backward)) {
  if (!claims) break;
  claims.fill(0);
  fnsTwo[k.name]!(tTwo, { ...sizes, '#part': 0, '#parts': 2 });
  const slot = claims.findIndex((w) => w !== 0);
  if (slot >= 0) claimOf.set(k.name, { slot, trips: claims[slot]! });
}
const presetClaims = (name: string, part: number, parts: number) => {
  const c = claimOf.get(name);
  if (!c) return;
  const half = Math.floor(c.trips / 2);
  claims![c.slot] = parts === 1 ? 0 : part === 0 ? (c.trips - half) << 16 : half;
};
// a kernel's four timings one after the other, so that they see the same load
const runs: { key: string; run: () => void }[] = [];
for (const k of threaded.forward.concat(threaded.backward)) {
  runs.push({ key: `${k.name}/one`, run: () => fnsOne[k.name]!(tOne, sizes) });
  for (const [part, parts] of [[0, 1], [0, 2], [1, 2]] as const)
    runs.push({
      key: `${k.name}/${part}of${parts}`,
      run: () => {
        presetClaims(k.name, part, parts);
        fnsTwo[k.name]!(tTwo, { ...sizes, '#part': part, '#parts': parts });
      },
    });
}
for (let w = 0; w < 3; w++) for (const r of runs) r.run();
const times = new Map<string, number[]>(runs.map((r) => [r.key, []]));
for (let round = 0; round < rounds; round++)
  for (const r of runs) {
    const t0 = performance.now();
    r.run();
    times.get(r.key)!.push(performance.now() - t0);
  }
const stat = arg('stat', 'median');
const ms = (key: string) => (stat === 'min' ? Math.min(...times.get(key)!) : median(times.get(key)!));

const kernels = threaded.forward.concat(threaded.backward);
const rows = kernels.map((k) => ({ k, whole: ms(`${k.name}/one`), all: ms(`${k.name}/0of1`), h0: ms(`${k.name}/0of2`), h1: ms(`${k.name}/1of2`) }));
const one = rows.reduce((a, r) => a + r.whole, 0);
const splitOne = rows.reduce((a, r) => a + (r.k.threads === 'split' ? r.whole : 0), 0);
// a whole kernel runs on worker 0 alone (part 1 returns at once)
const two = rows.reduce((a, r) => a + (r.k.threads === 'split' ? Math.max(r.h0, r.h1) : r.h0), 0);
const threadedWhole = rows.reduce((a, r) => a + r.all, 0);
console.log(`${'kernel'.padEnd(16)} ${'copying'.padStart(9)} ${'of step'.padStart(8)} ${'in place (one thread)'.padStart(22)}   part 0 | part 1 of 2`);
for (const { k, whole, all, h0, h1 } of rows)
  console.log(`${k.name.padEnd(16)} ${whole.toFixed(3).padStart(9)} ${`${((100 * whole) / one).toFixed(1)}%`.padStart(8)} ${all.toFixed(3).padStart(22)}   ${h0.toFixed(3).padStart(6)} | ${h1.toFixed(3).padEnd(6)}  ${k.threads === 'split' ? 'split' : 'whole'} ${k.runs === 'wasm' ? 'wasm' : 'js'}`);
const p = splitOne / one;
console.log(`step with copying kernels ${one.toFixed(2)} ms (compile() where memories cannot be shared); split kernels ${(100 * p).toFixed(1)}% of it, Amdahl's bound on 2 threads ${(1 / (1 - p + p / 2)).toFixed(2)}×`);
console.log(`in place, one part (compile() without threads in Node): ${threadedWhole.toFixed(2)} ms; 2 threads: the larger shares add up to ${two.toFixed(2)} ms — ${(threadedWhole / two).toFixed(2)}× the in-place one thread at best (${(one / two).toFixed(2)}× the copying kernels)`);
const show = arg('show', '');
if (show) console.log(printModule({ ...threaded, forward: threaded.forward.concat(threaded.backward).filter((k) => k.name === show), backward: [] }, 'js-body', { sharedMemory: true }).split('\n').filter((l) => !l.includes("const hex")).join('\n'));
