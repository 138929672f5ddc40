// The page of the browser-threads group (bench/groups/browserThreads.ts): in one cross-origin
// isolated Chromium page, deltagrad at one thread (compile(), on the page's thread) and two
// (compile(src, { threads: 2 }), two Web Workers) beside jax-js's WebAssembly backend with one worker
// and with two, on the cases of cases.ts — checked against deltagrad's one thread, then timed
// interleaved: one sample of each per round, the order rotated every round. Reports on
// globalThis.result; progress on console.log.
//
// jax-js sizes its worker pool from navigator.hardwareConcurrency, read once, when init('wasm')
// creates its backend (createWorkerPool in its backend module; 4 when the browser does not say).
// So the page overrides that getter while each of two copies of the module initialises: /jax.js
// imported as /jax.js?workers=2 and /jax.js?workers=1 is two module instances, two backends, two
// pools. A timed jax-js call ends with `await array.data()`: that path runs the kernels on the pool
// (dataSync() compiles them synchronously and runs them on the page's thread instead).
//
// Worked example: /index.html?rounds=15&sampleMs=20 → result.cases[0] = { name: 'matmul 1024³',
// op: 'fwd', flops, impls: [{ impl: 'deltagrad', threads: 1, workers: 0, medianMs, … }, …] }.
import { compile } from '../../src/index.js';
import { browserCases, type BrowserCase, type Jax, type JaxArray } from './cases.js';

type Arrays = Record<string, Float32Array>;

interface Runner {
  readonly impl: 'deltagrad' | 'jax-js';
  readonly threads: number;
  /** one timed call (a Promise where the work is on workers) */
  run(): void | Promise<void>;
  outputs(): Promise<Arrays>;
  dispose(): void;
}

export interface ImplResult {
  impl: 'deltagrad' | 'jax-js';
  threads: number;
  /** Web Workers this implementation started (its pool), counted by the page */
  workers: number;
  medianMs?: number;
  minMs?: number;
  samplesMs?: number[];
  inner?: number;
  /** max |out − ref| / max |ref| over the checked arrays, against deltagrad at one thread */
  relErr?: number;
  error?: string;
}

export interface CaseResult {
  name: string;
  op: string;
  flops?: number;
  note?: string;
  impls: ImplResult[];
}

export interface PageResult {
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  cases: CaseResult[];
}

// the page's globals (the project's TypeScript has no DOM library)
type WorkerClass = new (url: string | URL, opts?: object) => object;
const page = globalThis as unknown as { Worker: WorkerClass; navigator: { hardwareConcurrency: number }; location: { search: string }; crossOriginIsolated?: boolean };

// every Worker the page starts is counted for whoever is being set up
const started = new Map<string, number>();
let starter = '';
const BaseWorker = page.Worker;
page.Worker = class extends BaseWorker {
  constructor(url: string | URL, opts?: object) {
    super(url, opts);
    started.set(starter, (started.get(starter) ?? 0) + 1);
  }
};

async function loadJax(workers: number): Promise<Jax> {
  Object.defineProperty(page.navigator, 'hardwareConcurrency', { configurable: true, get: () => workers });
  try {
    const jax = (await import(`/jax.js?workers=${workers}`)) as Jax;
    await jax.init('wasm');
    jax.defaultDevice('wasm');
    return jax;
  } finally {
    delete (page.navigator as { hardwareConcurrency?: number }).hardwareConcurrency;
  }
}

const mapValues = <A, B>(r: Record<string, A>, f: (a: A) => B): Record<string, B> => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, f(v)]));

function deltagrad(c: BrowserCase, threads: 1 | 2): Runner {
  const opts = { sizes: c.sizes, dtype: 'float32' as const, ...(c.wrt ? { wrt: [...c.wrt] } : {}) };
  const x = mapValues(c.inputs, (d) => d.f32);
  const seeds = mapValues(c.seeds ?? {}, (d) => d.f32);
  const one = threads === 1 ? compile(c.source, opts) : undefined;
  const two = threads === 2 ? compile(c.source, { ...opts, threads: 2 }) : undefined;
  const k = (one ?? two)!;
  // preallocated outputs, reused by every call (the forward's too, with backward: the loss)
  const out: Arrays = mapValues(Object.fromEntries(k.outputs.map((n) => [n, k.shapes[n]!])), (s) => new Float32Array(s.reduce((a, b) => a * b, 1)));
  if (c.call === 'backward') for (const n of c.check) out[n] ??= new Float32Array((k.shapes[n.slice(1)] ?? []).reduce((a, b) => a * b, 1));
  const call = (): void | Promise<unknown> =>
    one ? void (c.call === 'forward' ? one.forward(x, out) : one.backward(x, seeds, out)) : c.call === 'forward' ? two!.forward(x, out) : two!.backward(x, seeds, out);
  return {
    impl: 'deltagrad',
    threads,
    run: call as () => void | Promise<void>,
    outputs: async () => (await call(), mapValues(out, (a) => a.slice())),
    dispose: () => two?.dispose(),
  };
}

function jaxjs(jax: Jax, c: BrowserCase, threads: number, jitAll: boolean): Runner {
  const given = { ...c.inputs, ...c.seeds };
  const names = Object.keys(given);
  const xs = names.map((n) => jax.numpy.array(given[n]!.f32).reshape([...given[n]!.shape]));
  // jit takes its arguments positionally and consumes them: each call passes new references
  const fn = (...args: JaxArray[]) => c.jax(jax, Object.fromEntries(names.map((n, i) => [n, args[i]!])));
  const f = c.eager && !jitAll ? Object.assign(fn, { dispose() {} }) : jax.jit(fn);
  const call = async (): Promise<Arrays> => {
    const o = f(...xs.map((a) => a.ref)) as Record<string, JaxArray>;
    const keys = Object.keys(o);
    const data = await Promise.all(keys.map((key) => o[key]!.data()));
    return Object.fromEntries(keys.map((key, i) => [key, data[i] as Float32Array]));
  };
  return {
    impl: 'jax-js',
    threads,
    run: async () => void (await call()),
    outputs: call,
    dispose: () => {
      for (const a of xs) a.dispose();
      f.dispose();
    },
  };
}

function relError(a: ArrayLike<number> | undefined, ref: ArrayLike<number>): number {
  if (!a || a.length !== ref.length) return Infinity;
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return Number.isNaN(err) ? Infinity : err / (scale || 1);
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function once(r: Runner): Promise<void> {
  const p = r.run();
  if (p) await p;
}

/** Warm-up (two calls, then on to ~warmupMs), then `rounds` samples of each, the order rotated every
 *  round — fewer (not under 5) where that many rounds would take longer than budgetMs. */
async function timeInterleaved(runners: readonly Runner[], p: Params): Promise<{ samplesMs: number[]; inner: number }[]> {
  const { sampleMs, warmupMs } = p;
  const inner: number[] = [];
  let roundMs = 0;
  for (const r of runners) {
    let calls = 0;
    const t0 = performance.now();
    while (calls < 2 || (performance.now() - t0 < warmupMs && calls < 50)) {
      await once(r);
      calls++;
    }
    const perCall = (performance.now() - t0) / calls;
    inner.push(Math.max(1, Math.ceil(sampleMs / perCall)));
    roundMs += inner.at(-1)! * perCall;
  }
  const rounds = Math.max(Math.min(5, p.rounds), Math.min(p.rounds, Math.floor(p.budgetMs / Math.max(roundMs, 1e-3))));
  const samples: number[][] = runners.map(() => []);
  for (let round = 0; round < rounds; round++)
    for (let j = 0; j < runners.length; j++) {
      const k = (j + round) % runners.length;
      const t0 = performance.now();
      for (let i = 0; i < inner[k]!; i++) await once(runners[k]!);
      samples[k]!.push((performance.now() - t0) / inner[k]!);
    }
  return runners.map((_, k) => ({ samplesMs: samples[k]!, inner: inner[k]! }));
}

async function runCase(c: BrowserCase, jaxes: Record<number, Jax>, p: Params): Promise<CaseResult> {
  const results: ImplResult[] = [];
  const ready: { r: Runner; result: ImplResult }[] = [];
  let reference: Arrays | undefined;
  const makers: [Runner['impl'], number, () => Runner][] = [
    ['deltagrad', 1, () => deltagrad(c, 1)],
    ['deltagrad', 2, () => deltagrad(c, 2)],
    ['jax-js', 1, () => jaxjs(jaxes[1]!, c, 1, p.jitAll)],
    ['jax-js', 2, () => jaxjs(jaxes[2]!, c, 2, p.jitAll)],
  ];
  for (const [impl, threads, make] of makers) {
    starter = `${c.name} ${c.op} ${impl} ${threads}`;
    const result: ImplResult = { impl, threads, workers: 0 };
    results.push(result);
    let r: Runner | undefined;
    try {
      r = make();
      const out = await r.outputs();
      if (!reference) reference = out;
      else result.relErr = Math.max(...c.check.map((n) => relError(out[n], reference![n]!)));
      ready.push({ r, result });
    } catch (e) {
      r?.dispose();
      result.error = String((e as Error)?.message ?? e).split('\n')[0];
    }
  }
  const timings = await timeInterleaved(
    ready.map((x) => x.r),
    p,
  );
  ready.forEach(({ r, result }, k) => {
    const t = timings[k]!;
    Object.assign(result, { medianMs: median(t.samplesMs), minMs: Math.min(...t.samplesMs), samplesMs: t.samplesMs, inner: t.inner });
    r.dispose();
  });
  for (const result of results) result.workers = started.get(`${c.name} ${c.op} ${result.impl} ${result.threads}`) ?? 0;
  return { name: c.name, op: c.op, ...(c.flops ? { flops: c.flops } : {}), ...(c.note ? { note: c.note } : {}), impls: results };
}

interface Params {
  tiny: boolean;
  rounds: number;
  sampleMs: number;
  warmupMs: number;
  /** time for the timed rounds of one case */
  budgetMs: number;
  /** --quick: the cases marked skipQuick left out */
  quick: boolean;
  /** every jax-js function under jit, the convolutions too (?jit=all) */
  jitAll: boolean;
  only?: string[];
}

async function main(): Promise<PageResult> {
  const q = new URLSearchParams(page.location.search);
  const p: Params = {
    tiny: q.get('tiny') === '1',
    rounds: Number(q.get('rounds') ?? 15),
    sampleMs: Number(q.get('sampleMs') ?? 20),
    warmupMs: Number(q.get('warmupMs') ?? 300),
    budgetMs: Number(q.get('budgetMs') ?? 20_000),
    jitAll: q.get('jit') === 'all',
    quick: q.get('quick') === '1',
    ...(q.get('only') ? { only: q.get('only')!.split(',') } : {}),
  };
  const hardwareConcurrency = page.navigator.hardwareConcurrency;
  const jaxes = { 1: await loadJax(1), 2: await loadJax(2) };
  const cases: CaseResult[] = [];
  for (const c of browserCases(p.tiny)) {
    if ((p.only && !p.only.some((s) => c.name.startsWith(s))) || (p.quick && c.skipQuick)) continue;
    const r = await runCase(c, jaxes, p);
    cases.push(r);
    const fmt = (i: ImplResult) => `${i.impl} ×${i.threads}: ${i.error ? `ERROR ${i.error}` : `${i.medianMs!.toFixed(2)} ms`}${i.relErr !== undefined ? ` (err ${i.relErr.toExponential(1)})` : ''}`;
    console.log(`  ${r.name} ${r.op}: ${r.impls.map(fmt).join(', ')}`);
  }
  return { crossOriginIsolated: page.crossOriginIsolated === true, hardwareConcurrency, cases };
}

main().then(
  (r) => ((globalThis as { result?: unknown }).result = r),
  (e: unknown) => ((globalThis as { result?: unknown }).result = { error: String((e as Error)?.stack ?? e) }),
);
