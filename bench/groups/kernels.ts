// kernels (issue 19): one case per kernel class outside the GEMM, each run three ways by deltagrad —
// as the cost rule chooses (src/opt/chooseTarget.ts), every kernel as JavaScript (`wasm: 'never'`)
// and every kernel it can as WebAssembly (`wasm: 'always'`) — so each row shows whether the rule's
// choice was the faster one, beside TF.js WASM (XNNPACK, one thread) on the same data, interleaved.
//   elementwise chain  Y = max(X·G + B, 0)·0.5 + X            1M elements
//   layer norm         mean, variance, normalise·g + b        512 × 1024 (three kernels)
//   depthwise conv     3×3, padding 1                          8 × 64 × 56 × 56
//   row softmax xent   forward + backward                      512 × 1000
//   column sum         db[f] = Σ_n dY[n,f] (a bias gradient)   4096 × 256
//   exp map            Y = exp(X) (the rule keeps JavaScript)  1M elements
//   embedding gather   Y[n,d] = E[tok[n], d] (integer data)    50000 × 64 table, 2048 tokens
//   embedding scatter  dE = 0, dE[tok[n],d] += dY[n,d]         the same (TF.js WASM has no scatter-add)
//   label xent         L = Σ_n logsumexp(S[n,:]) − S[n, y[n]]  512 × 1000, y: int[N]
// TF.js runs NHWC for the convolution (its layout); its time includes no transposition.
import type { Case, Impl, Prepared } from '../lib/cases.js';
import { fromNHWC, oneHot, rng, toNHWC, uniform, type Data } from '../lib/data.js';
import { alloc, kernel, kernels, type Dt, type WasmChoice } from '../lib/deltagrad.js';
import { jax, jaxImpl, type JaxArray } from '../lib/jax.js';
import { read, tf, tidyRun, useBackend } from '../lib/tfjs.js';

const np = jax.numpy;

interface KernelCase {
  readonly name: string;
  readonly source: string;
  readonly sizes: Record<string, number>;
  /** the kernels one call runs, in order */
  readonly fns: readonly string[];
  readonly inputs: Record<string, Data>;
  /** integer data (declared int): Int32Arrays, in both precisions */
  readonly ints?: Record<string, Int32Array>;
  /** every array the kernels write, with its length */
  readonly outputs: Record<string, number>;
  /** the arrays compared with the reference */
  readonly check: readonly string[];
  readonly flops?: number;
  /** TF.js's version, from f32 tensors of the inputs (in its layout) */
  readonly tf?: (x: Record<string, tf.Tensor>) => Record<string, tf.Tensor>;
  readonly tfLayout?: Record<string, number[]>;
  /** from TF.js's layout back to deltagrad's */
  readonly tfBack?: (name: string, v: Float32Array) => Float32Array;
  /** jax-js's version (under jit), from f32 arrays of the inputs in deltagrad's layout */
  readonly jax?: (x: Record<string, JaxArray>) => Record<string, JaxArray>;
}

const N1M = 1 << 20;
const [DN, DC, DH, DW] = [8, 64, 56, 56];
const [LN, LD] = [512, 1024];
const [SN, SC] = [512, 1000];
const [CN, CF] = [4096, 256];
const [EV, ED, EN] = [50000, 64, 2048];

/** n seeded whole numbers in [0, hi) */
function tokens(seed: number, n: number, hi: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(r() * hi));
}

function cases(): KernelCase[] {
  const X1 = uniform(61, [N1M]);
  const dwX = uniform(62, [DN, DC, DH, DW]);
  const dwK = uniform(63, [DC, 3, 3]);
  const S = uniform(64, [SN, SC], -3, 3);
  const Yt = oneHot(65, SN, SC);
  const dY = uniform(66, [CN, CF]);
  const table = uniform(72, [EV, ED]);
  const tok = tokens(73, EN, EV);
  const labels = tokens(75, SN, SC);
  return [
    {
      name: `elementwise chain ${N1M}`,
      source: 'dims I\nX: [I]\nG: [I]\nB: [I]\nY[i] = max(X[i] * G[i] + B[i], 0) * 0.5 + X[i]',
      sizes: { I: N1M },
      fns: ['forward_Y'],
      inputs: { X: X1, G: uniform(67, [N1M]), B: uniform(68, [N1M]) },
      outputs: { Y: N1M },
      check: ['Y'],
      tf: ({ X, G, B }) => ({ Y: tf.add(tf.mul(tf.relu(tf.add(tf.mul(X!, G!), B!)), 0.5), X!) }),
      jax: ({ X, G, B }) => ({ Y: np.maximum(X!.ref.mul(G!).add(B!), 0).mul(0.5).add(X!) }),
    },
    {
      name: `layer norm ${LN}×${LD}`,
      source: `dims N, D\nX: [N, D]\ng: [D]\nb: [D]\nm[n] = sum(d) X[n,d] / D\nv[n] = sum(d) (X[n,d] - m[n])^2 / D\nY[n,d] = (X[n,d] - m[n]) / sqrt(v[n] + 0.00001) * g[d] + b[d]`,
      sizes: { N: LN, D: LD },
      fns: ['forward_m', 'forward_v', 'forward_Y'],
      inputs: { X: uniform(69, [LN, LD]), g: uniform(70, [LD]), b: uniform(71, [LD]) },
      outputs: { m: LN, v: LN, Y: LN * LD },
      check: ['Y'],
      tf: ({ X, g, b }) => {
        const { mean, variance } = tf.moments(X!, 1, true);
        return { Y: tf.add(tf.mul(tf.div(tf.sub(X!, mean), tf.sqrt(tf.add(variance, 1e-5))), g!), b!) };
      },
      jax: ({ X, g, b }) => {
        const d = X!.ref.sub(np.mean(X!, 1, { keepdims: true }));
        const v = np.mean(np.square(d.ref), 1, { keepdims: true });
        return { Y: d.div(np.sqrt(v.add(1e-5))).mul(g!).add(b!) };
      },
    },
    {
      name: `depthwise conv 3×3 ${DN}×${DC}×${DH}×${DW}`,
      source: 'dims N, C, H, W\nX: [N, C, H, W]\nK: [C, 3, 3]\nY[n,c,h,w] = sum(i:3, j:3) K[c,i,j] * X[n,c,h+i-1,w+j-1]',
      sizes: { N: DN, C: DC, H: DH, W: DW },
      fns: ['forward_Y'],
      inputs: { X: dwX, K: dwK },
      outputs: { Y: DN * DC * DH * DW },
      check: ['Y'],
      flops: 2 * 9 * DN * DC * DH * DW,
      tfLayout: { X: [DN, DH, DW, DC], K: [3, 3, DC, 1] },
      tf: ({ X, K }) => ({ Y: tf.depthwiseConv2d(X as tf.Tensor4D, K as tf.Tensor4D, 1, 'same') }),
      tfBack: (_n, v) => Float32Array.from(fromNHWC(v, [DN, DC, DH, DW])),
      jax: ({ X, K }) => ({ Y: jax.lax.convGeneralDilated(X!, K!.reshape([DC, 1, 3, 3]), [1, 1], 'SAME', { featureGroupCount: DC }) }),
    },
    {
      name: `softmax xent ${SN}×${SC}`,
      source: 'dims N, C\nS: [N, C]\nYt: [N, C]\nL = sum(n) (logsumexp(c) S[n,c] - sum(c) Yt[n,c] * S[n,c]) / N',
      sizes: { N: SN, C: SC },
      fns: ['forward_L', 'backward_dS'],
      inputs: { S, Yt },
      outputs: { L: 1, dL: 1, dS: SN * SC },
      check: ['L', 'dS'],
      tf: ({ S: s, Yt: yt }) => {
        const { value, grad } = tf.valueAndGrad((logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(yt!, logits) as tf.Scalar)(s!);
        return { L: value, dS: grad };
      },
      jax: ({ S: s, Yt: yt }) => {
        const loss = (z: JaxArray, t: JaxArray) => np.sum(jax.nn.logsumexp(z.ref, -1).sub(np.sum(t.mul(z), -1))).div(SN);
        const [L, dS] = jax.valueAndGrad(loss)(s!, yt!) as [JaxArray, JaxArray];
        return { L, dS };
      },
    },
    {
      name: `column sum ${CN}×${CF}`,
      source: 'dims N, F\ndY: [N, F]\ndb[f] = sum(n) dY[n,f]',
      sizes: { N: CN, F: CF },
      fns: ['forward_db'],
      inputs: { dY },
      outputs: { db: CF },
      check: ['db'],
      tf: ({ dY: d }) => ({ db: tf.sum(d!, 0) }),
      jax: ({ dY: d }) => ({ db: np.sum(d!, 0) }),
    },
    {
      name: `embedding gather ${EV}×${ED}, ${EN} tokens`,
      source: 'dims V, D, N\nE: [V, D]\ntok: int[N]\nY[n,d] = E[tok[n], d]',
      sizes: { V: EV, D: ED, N: EN },
      fns: ['forward_Y'],
      inputs: { E: table },
      ints: { tok },
      outputs: { Y: EN * ED },
      check: ['Y'],
      tf: ({ E, tok: t }) => ({ Y: tf.gather(E!, t!) }),
    },
    {
      name: `embedding scatter-add ${EV}×${ED}, ${EN} tokens`,
      source: 'dims V, D, N\nE: [V, D]\ntok: int[N]\nY[n,d] = E[tok[n], d]',
      sizes: { V: EV, D: ED, N: EN },
      fns: ['backward_dE', 'backward_dE2'],
      inputs: { E: table, dY: uniform(74, [EN, ED]) },
      ints: { tok },
      outputs: { dE: EV * ED },
      check: ['dE'],
      // no TF.js row: its WASM backend has no UnsortedSegmentSum (the scatter-add)
    },
    {
      name: `label xent ${SN}×${SC}`,
      source: 'dims N, C\nS: [N, C]\ny: int[N]\nL = sum(n) (logsumexp(c) S[n,c] - S[n, y[n]]) / N',
      sizes: { N: SN, C: SC },
      fns: ['forward_L', 'backward_dS'],
      inputs: { S },
      ints: { y: labels },
      outputs: { L: 1, dL: 1, dS: SN * SC },
      check: ['L', 'dS'],
      tf: ({ S: s, y }) => {
        const { value, grad } = tf.valueAndGrad((logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(tf.oneHot(y as tf.Tensor1D, SC), logits) as tf.Scalar)(s!);
        return { L: value, dS: grad };
      },
    },
    {
      name: `exp map ${N1M}`,
      source: 'dims I\nX: [I]\nY[i] = exp(X[i])',
      sizes: { I: N1M },
      fns: ['forward_Y'],
      inputs: { X: X1 },
      outputs: { Y: N1M },
      check: ['Y'],
      tf: ({ X }) => ({ Y: tf.exp(X!) }),
      jax: ({ X }) => ({ Y: np.exp(X!) }),
    },
  ];
}

function dgImpl(c: KernelCase, dt: Dt, wasm: WasmChoice): Impl {
  return {
    impl: 'deltagrad',
    dtype: dt,
    ...(wasm === 'auto' ? {} : { variant: wasm === 'never' ? 'JavaScript' : 'WebAssembly' }),
    ...(wasm === 'auto' && dt === 'f64' ? { reference: true } : {}),
    ...(wasm === 'never' ? { note: "wasm: 'never': every kernel as JavaScript" } : wasm === 'always' ? { note: "wasm: 'always': every kernel it can as WebAssembly" } : {}),
    setup(): Prepared {
      const m = kernels(c.source, dt, true, true, wasm);
      const fns = c.fns.map((f) => kernel(m, f));
      const t: Record<string, Float32Array | Float64Array | Int32Array> = {};
      for (const [n, d] of Object.entries(c.inputs)) t[n] = d[dt];
      for (const [n, d] of Object.entries(c.ints ?? {})) t[n] = d;
      for (const [n, len] of Object.entries(c.outputs)) t[n] = alloc(dt, len);
      if (t.dL) t.dL[0] = 1;
      const run = () => {
        for (const f of fns) f(t, c.sizes);
      };
      return { run, outputs: () => (run(), Object.fromEntries(c.check.map((n) => [n, t[n]!]))) };
    },
  };
}

function tfImpl(c: KernelCase): Impl {
  return {
    impl: 'tfjs-wasm',
    dtype: 'f32',
    async setup(): Promise<Prepared> {
      await useBackend('wasm');
      const x: Record<string, tf.Tensor> = {};
      for (const [n, d] of Object.entries(c.inputs)) {
        const shape = c.tfLayout?.[n] ?? [...d.shape];
        const values = c.tfLayout?.[n] && n === 'X' ? toNHWC(d.f32, d.shape) : n === 'K' && c.tfLayout?.K ? depthwiseFilter(d.f32, d.shape) : d.f32;
        x[n] = tf.tensor(values, shape);
      }
      for (const [n, d] of Object.entries(c.ints ?? {})) x[n] = tf.tensor(d, [d.length], 'int32');
      const fn = () => c.tf!(x);
      return {
        run: tidyRun(fn),
        outputs: () => {
          const o = read(fn);
          return Object.fromEntries(Object.entries(o).map(([n, v]) => [n, c.tfBack ? c.tfBack(n, Float32Array.from(v)) : v]));
        },
        dispose: () => tf.dispose(Object.values(x)),
      };
    },
  };
}

/** K[c, i, j] → TF.js's depthwise filter [i, j, c, 1] */
function depthwiseFilter(k: Float32Array, [C, R, S]: readonly number[]): Float32Array {
  const out = new Float32Array(k.length);
  for (let c = 0; c < C!; c++) for (let i = 0; i < R!; i++) for (let j = 0; j < S!; j++) out[(i * S! + j) * C! + c] = k[(c * R! + i) * S! + j]!;
  return out;
}

export function kernelCases(): Case[] {
  return cases().map((c) => ({
    group: 'kernels',
    name: c.name,
    op: c.fns.length > 1 && c.fns.some((f) => f.startsWith('backward')) ? 'fwd+bwd' : 'fwd',
    ...(c.flops ? { flops: c.flops } : {}),
    impls: [
      dgImpl(c, 'f64', 'auto'),
      dgImpl(c, 'f32', 'auto'),
      dgImpl(c, 'f32', 'never'),
      dgImpl(c, 'f32', 'always'),
      ...(c.tf ? [tfImpl(c)] : []),
      ...(c.jax ? [jaxImpl(c.jax, Object.fromEntries(Object.entries(c.inputs).map(([n, d]) => [n, [d.f32, d.shape] as [Float32Array, readonly number[]]])))] : []),
    ],
  }));
}
