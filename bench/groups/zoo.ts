// The layer zoo (issue 15): for each layer, compile()'s backward() — which reruns the forward, then
// computes every gradient — against its forward(), timed interleaved in one process; the cheap-gradient
// principle says the ratio is a small constant (the bar: ≤ 4×). Where TF.js has the op, its forward +
// backward (tf.grads, WASM backend) runs beside it, checked against deltagrad's numbers.
//
// Worked example: the row "zoo log_softmax 256×1000" has deltagrad f32 backward() (the reference),
// deltagrad f32 forward() (variant 'forward', unchecked) and tfjs-wasm; zooTable() turns them into
//   log_softmax 256×1000  forward 0.9 ms  backward 2.1 ms  2.3×  (TF.js WASM fwd+bwd 3.0 ms)
// A one-statement matrix chain also runs beside the same chain written as two statements, and an MLP
// step compiled with `wrt` its weights beside the same step computing every gradient.
import { readFileSync } from 'node:fs';
import { compile } from '../../src/index.js';
import type { DataArray } from '../../src/codegen/compile.js';
import type { Case, Impl, Prepared, Row } from '../lib/cases.js';
import { uniform } from '../lib/data.js';
import { read, tf, tidyRun, useBackend } from '../lib/tfjs.js';

const layerSource = (name: string) => readFileSync(new URL(`../../examples/layers/${name}.dg`, import.meta.url), 'utf8');

const TWO_STATEMENT_CHAIN = 'dims I, J, K, L\nA: [I, J]\nB: [J, K]\nC: [K, L]\nAB[i,k] = A[i,j]*B[j,k]\nY[i,l] = AB[i,k]*C[k,l]\n';

const MLP_STEP = `dims N, D, H, C
X: [N, D]
W1: [H, D]
b1: [H]
W2: [C, H]
b2: [C]
Yt: [N, C]
Hd[n,h] = relu(W1[h,d]*X[n,d] + b1[h])
S[n,c] = W2[c,h]*Hd[n,h] + b2[c]
L = sum(n) (logsumexp(c) S[n,c] - sum(c) Yt[n,c]*S[n,c]) / N
`;

interface ZooLayer {
  readonly name: string;
  readonly sizes: Record<string, number>;
  /** TF.js's forward + every gradient, from the inputs and the seeds in deltagrad's layout */
  readonly tfjs?: (x: Record<string, tf.Tensor>, seed: tf.Tensor) => Record<string, tf.Tensor>;
}

/** tf.grads of f over the named inputs, with the upstream gradient `seed`: { dX: … } */
const gradsOf = (names: readonly string[], f: (...xs: tf.Tensor[]) => tf.Tensor) => (x: Record<string, tf.Tensor>, seed: tf.Tensor) => {
  const gs = tf.grads(f)(names.map((n) => x[n]!), seed);
  return Object.fromEntries(names.map((n, k) => [`d${n}`, gs[k]!]));
};

const normalise = (axis: number) => (X: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
  const mu = tf.mean(X, axis, true);
  const c = tf.sub(X, mu);
  const v = tf.mean(tf.square(c), axis, true);
  return tf.add(tf.mul(tf.div(c, tf.sqrt(tf.add(v, 1e-5))), g), b);
};

const ZOO: readonly ZooLayer[] = [
  // the seeds' layers
  { name: 'affine_relu', sizes: { N: 64, D: 256, F: 128 } },
  { name: 'tanh', sizes: { N: 256, D: 256 } },
  { name: 'maxout', sizes: { N: 64, D: 128, K: 64 } },
  { name: 'softmax_xent', sizes: { N: 256, C: 100 } },
  { name: 'two_layer_svm', sizes: { N: 64, D: 256, H: 128, C: 10 } },
  { name: 'conv2d', sizes: { N: 4, C: 8, H: 32, W: 32, F: 16 } },
  { name: 'conv2d_s2p1', sizes: { N: 4, C: 8, H: 32, W: 32, F: 16 } },
  { name: 'maxpool2d', sizes: { N: 8, C: 16, H: 32, W: 32 } },
  { name: 'avgpool2d', sizes: { N: 8, C: 16, H: 32, W: 32 } },
  // the zoo proper
  { name: 'conv_transpose2d', sizes: { N: 2, C: 8, H: 32, W: 32, F: 8 } },
  { name: 'depthwise_conv2d', sizes: { N: 4, C: 16, H: 32, W: 32 } },
  { name: 'grouped_conv2d', sizes: { N: 4, G: 4, CG: 4, FG: 4, H: 32, W: 32 } },
  { name: 'dilated_conv2d', sizes: { N: 4, C: 8, H: 32, W: 32, F: 16 } },
  { name: 'conv1d', sizes: { N: 8, C: 16, L: 256, F: 16 } },
  {
    name: 'attention',
    sizes: { H: 2, T: 512, E: 64 },
    tfjs: gradsOf(['Q', 'K', 'V'], (Q, K, V) => tf.matMul(tf.softmax(tf.div(tf.matMul(Q!, K!, false, true), Math.sqrt(64))), V!)),
  },
  { name: 'layer_norm', sizes: { N: 256, D: 512 }, tfjs: gradsOf(['X', 'g', 'b'], (X, g, b) => normalise(1)(X!, g!, b!)) },
  { name: 'batch_norm', sizes: { N: 256, C: 256 }, tfjs: gradsOf(['X', 'g', 'b'], (X, g, b) => normalise(0)(X!, g!, b!)) },
  { name: 'log_softmax', sizes: { N: 256, C: 1000 }, tfjs: gradsOf(['X'], (X) => tf.logSoftmax(X!)) },
  { name: 'gru_cell', sizes: { N: 64, D: 128, M: 128 } },
  { name: 'matrix_chain', sizes: { I: 256, J: 256, K: 256, L: 256 }, tfjs: gradsOf(['A', 'B', 'C'], (A, B, C) => tf.matMul(tf.matMul(A!, B!), C!)) },
  { name: 'least_squares', sizes: { I: 128, J: 128, K: 128, M: 128 } },
];

const label = (z: ZooLayer) => `zoo ${z.name} ${Object.values(z.sizes).join('×')}`;

/** Inputs and seeds of a layer, the same numbers for every implementation (float32). */
function data(source: string, sizes: Record<string, number>, seed: number) {
  const k = compile(source, { sizes, dtype: 'float32' });
  const inputs: Record<string, Float32Array> = {};
  k.inputs.forEach((n, q) => (inputs[n] = uniform(seed + q, k.shapes[n]!).f32));
  const seeds: Record<string, Float32Array> = {};
  k.outputs.forEach((n, q) => {
    if (k.shapes[n]!.length > 0) seeds[`d${n}`] = uniform(seed + 100 + q, k.shapes[n]!).f32;
  });
  return { k, inputs, seeds };
}

function deltagrad(source: string, sizes: Record<string, number>, seed: number, op: 'forward' | 'backward', variant?: string, wrt?: readonly string[]): Impl {
  return {
    impl: 'deltagrad',
    dtype: 'f32',
    // the backward is the reference TF.js is checked against; the forward beside it is not checked
    ...(variant ? { variant, ...(op === 'forward' ? { unchecked: true } : {}) } : { reference: true }),
    setup(): Prepared {
      const { inputs, seeds } = data(source, sizes, seed);
      const k = compile(source, { sizes, dtype: 'float32', ...(wrt ? { wrt } : {}) });
      // outputs and gradients allocated once: a fresh array costs its page faults on every call
      const fwdOut = k.forward(inputs);
      const bwdOut = k.backward(inputs, seeds);
      const run = op === 'forward' ? () => void k.forward(inputs, fwdOut) : () => void k.backward(inputs, seeds, { ...fwdOut, ...bwdOut });
      const outputs = (): Record<string, ArrayLike<number>> => (run(), op === 'forward' ? {} : (bwdOut as Record<string, DataArray>));
      return { run, outputs };
    },
  };
}

function tfjsImpl(z: ZooLayer, source: string, seed: number): Impl {
  return {
    impl: 'tfjs-wasm',
    dtype: 'f32',
    async setup(): Promise<Prepared> {
      await useBackend('wasm');
      const { k, inputs, seeds } = data(source, z.sizes, seed);
      const x = Object.fromEntries(k.inputs.map((n) => [n, tf.tensor(inputs[n]!, k.shapes[n]!)]));
      const out = k.outputs.find((n) => seeds[`d${n}`])!;
      const dY = tf.tensor(seeds[`d${out}`]!, k.shapes[out]!);
      const fn = () => z.tfjs!(x, dY);
      return { run: tidyRun(fn), outputs: () => read(fn), dispose: () => tf.dispose([...Object.values(x), dY]) };
    },
  };
}

export function zooCases(): Case[] {
  const cases: Case[] = ZOO.map((z, q) => {
    const source = layerSource(z.name);
    const seed = 1000 + 10 * q;
    return {
      group: 'zoo',
      name: label(z),
      op: 'fwd+bwd',
      impls: [deltagrad(source, z.sizes, seed, 'backward'), deltagrad(source, z.sizes, seed, 'forward', 'forward'), ...(z.tfjs ? [tfjsImpl(z, source, seed)] : [])],
    };
  });
  // the same chain as two statements: the one-statement chain is planned into it (src/plan/)
  const chain = ZOO.find((z) => z.name === 'matrix_chain')!;
  const seed = 1000 + 10 * ZOO.indexOf(chain);
  cases.push({
    group: 'zoo',
    name: `zoo matrix_chain one vs two statements ${Object.values(chain.sizes).join('×')}`,
    op: 'fwd+bwd',
    impls: [deltagrad(layerSource('matrix_chain'), chain.sizes, seed, 'backward'), deltagrad(TWO_STATEMENT_CHAIN, chain.sizes, seed, 'backward', 'two statements')],
  });
  // an MLP training step (784→256→10, 128 samples) with wrt its weights: no work for dX or the labels
  const mlp = { N: 128, D: 784, H: 256, C: 10 };
  cases.push({
    group: 'zoo',
    name: `zoo mlp step wrt weights ${Object.values(mlp).join('×')}`,
    op: 'fwd+bwd',
    impls: [deltagrad(MLP_STEP, mlp, 2000, 'backward', undefined, ['W1', 'b1', 'W2', 'b2']), deltagrad(MLP_STEP, mlp, 2000, 'backward', 'every input')],
  });
  return cases;
}

/** The zoo's table: backward() ÷ forward() per layer, and TF.js WASM's forward + backward beside it. */
export function zooTable(rows: readonly Row[]): { layer: string; forwardMs?: number; backwardMs?: number; ratio?: number; tfjsWasmMs?: number; twoStatementsMs?: number; everyInputMs?: number }[] {
  const cases = [...new Set(rows.map((r) => r.case))];
  return cases.map((c) => {
    const mine = rows.filter((r) => r.case === c && r.status === 'ok');
    const bwd = mine.find((r) => r.impl === 'deltagrad' && !r.variant)?.medianMs;
    const fwd = mine.find((r) => r.variant === 'forward')?.medianMs;
    const two = mine.find((r) => r.variant === 'two statements')?.medianMs;
    const every = mine.find((r) => r.variant === 'every input')?.medianMs;
    const tfw = mine.find((r) => r.impl === 'tfjs-wasm')?.medianMs;
    return {
      layer: c.replace(/^zoo /, ''),
      ...(fwd !== undefined ? { forwardMs: fwd } : {}),
      ...(bwd !== undefined ? { backwardMs: bwd } : {}),
      ...(fwd !== undefined && bwd !== undefined ? { ratio: bwd / fwd } : {}),
      ...(tfw !== undefined ? { tfjsWasmMs: tfw } : {}),
      ...(two !== undefined ? { twoStatementsMs: two } : {}),
      ...(every !== undefined ? { everyInputMs: every } : {}),
    };
  });
}
