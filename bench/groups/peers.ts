// peers (issue 19): deltagrad beside jax-js (@jax-js/jax, WebAssembly, one thread in Node; every
// function under jit) on what both do — matmul, conv forward, conv forward+backward, an MLP training
// step's loss and gradients — and beside onnxruntime-node (native CPU, one thread: the reference
// WebAssembly cannot reach) on matmul, conv and log-softmax forward. TF.js WASM is in each forward
// case too. All float32, deltagrad's layout (NCHW); compile() as a user calls it.
//   matmul        Y = A·B                                  512³
//   conv fwd      3×3, padding 1, 16 → 32 channels         8 × 16 × 32 × 32
//   conv fwd+bwd  Y, then dX and dK for a given dY         same
//   MLP step      784 → 256 (ReLU) → 10, softmax xent      batch 128: loss and dW1 db1 dW2 db2
//   log-softmax   rows                                     512 × 1000
import { compile } from '../../src/codegen/compile.js';
import type { Case, Impl, Prepared } from '../lib/cases.js';
import { oneHot, uniform, type Data } from '../lib/data.js';
import { jax, jaxImpl, type JaxArray } from '../lib/jax.js';
import { loadOrt, oneNodeModel, ortSession } from '../lib/ort.js';
import { read, tf, tidyRun, useBackend } from '../lib/tfjs.js';

const np = jax.numpy;
const M = 512;
const [CN, CC, CO, CH, CW] = [8, 16, 32, 32, 32];
const [BN, BD, BH, BC] = [128, 784, 256, 10];
const [SN, SC] = [512, 1000];

type Arr = Float32Array;

/** deltagrad through compile(): `run` is the timed call, given the compiled kernel and preallocated outputs */
function dgImpl(source: string, sizes: Record<string, number>, inputs: Record<string, Data>, call: 'forward' | 'backward', opts: { wrt?: string[]; seeds?: Record<string, Arr>; pick: (o: Record<string, Arr>) => Record<string, Arr> }): Impl {
  return {
    impl: 'deltagrad',
    dtype: 'f32',
    reference: true,
    setup(): Prepared {
      const k = compile(source, { sizes, dtype: 'float32', ...(opts.wrt ? { wrt: opts.wrt } : {}) });
      const x = Object.fromEntries(Object.entries(inputs).map(([n, d]) => [n, d.f32]));
      const out: Record<string, Arr> = {};
      const once = () => (call === 'forward' ? k.forward(x, out) : k.backward(x, opts.seeds ?? {}, out)) as Record<string, Arr>;
      Object.assign(out, once());
      return { run: () => void once(), outputs: () => opts.pick(once()) };
    },
  };
}

function tfImpl(fn: (x: Record<string, tf.Tensor>) => Record<string, tf.Tensor>, inputs: Record<string, [Arr, number[]]>): Impl {
  return {
    impl: 'tfjs-wasm',
    dtype: 'f32',
    async setup(): Promise<Prepared> {
      await useBackend('wasm');
      const x = Object.fromEntries(Object.entries(inputs).map(([n, [d, s]]) => [n, tf.tensor(d, s)]));
      const f = () => fn(x);
      return { run: tidyRun(f), outputs: () => read(f), dispose: () => tf.dispose(Object.values(x)) };
    },
  };
}

/** onnxruntime-node on one node; skipped (with the reason) when the package is absent */
function ortImpl(op: string, inputs: Record<string, [Arr, number[]]>, outputs: Record<string, number[]>, attrs: Record<string, number | number[]> = {}): Impl {
  return {
    impl: 'ort',
    dtype: 'f32',
    async setup(): Promise<Prepared> {
      const ort = await loadOrt();
      if (!ort) throw new Error('onnxruntime-node is not installed (an optional peer)');
      const model = oneNodeModel(op, Object.entries(inputs).map(([n, [, s]]) => [n, s]), Object.entries(outputs), attrs);
      const session = await ortSession(ort, model);
      const feeds = Object.fromEntries(Object.entries(inputs).map(([n, [d, s]]) => [n, new ort.Tensor('float32', d, s)]));
      let last: Record<string, ArrayLike<number>> = {};
      const run = async () => {
        const o = await session.run(feeds);
        last = Object.fromEntries(Object.entries(o).map(([n, t]) => [n, t.data]));
      };
      await run();
      return { run, outputs: () => last };
    },
  };
}

export async function peerCases(): Promise<Case[]> {
  const A = uniform(81, [M, M]);
  const B = uniform(82, [M, M]);
  const X = uniform(83, [CN, CC, CH, CW]);
  const K = uniform(84, [CO, CC, 3, 3]);
  const dY = uniform(85, [CN, CO, CH, CW]);
  const Xb = uniform(86, [BN, BD]);
  const Yt = oneHot(87, BN, BC);
  const W1 = uniform(88, [BH, BD], -0.05, 0.05);
  const b1 = uniform(89, [BH], -0.1, 0.1);
  const W2 = uniform(90, [BC, BH], -0.1, 0.1);
  const b2 = uniform(91, [BC], -0.1, 0.1);
  const S = uniform(92, [SN, SC], -3, 3);
  const f32 = (d: Data): [Arr, number[]] => [d.f32, [...d.shape]];
  const both = (d: Data): [Arr, readonly number[]] => [d.f32, d.shape];

  const MATMUL = 'dims M, K, N\nA: [M, K]\nB: [K, N]\nY[i,j] = A[i,k]*B[k,j]';
  const CONV = 'dims N, C, O, H, W\nX: [N, C, H, W]\nK: [O, C, 3, 3]\nY[n,o,h,w] = sum(c, i:3, j:3) K[o,c,i,j] * X[n,c,h+i-1,w+j-1]';
  const MLP = `dims N, D, H, C\nX: [N, D]\nYt: [N, C]\nW1: [H, D]\nb1: [H]\nW2: [C, H]\nb2: [C]\nA[n,h] = relu(sum(d) W1[h,d] * X[n,d] + b1[h])\nS[n,c] = sum(h) W2[c,h] * A[n,h] + b2[c]\nL = sum(n) (logsumexp(c) S[n,c] - sum(c) Yt[n,c] * S[n,c]) / N`;
  const LOGSOFTMAX = 'dims N, C\nX: [N, C]\nY[n,c] = X[n,c] - logsumexp(c2) X[n,c2]';
  const convFlops = 2 * CN * CO * CH * CW * CC * 9;
  const mlpLoss = (p: Record<string, JaxArray>, x: JaxArray, yt: JaxArray) => {
    const a = jax.nn.relu(np.matmul(x, p.W1!.transpose()).add(p.b1!));
    const s = np.matmul(a, p.W2!.transpose()).add(p.b2!);
    return np.sum(jax.nn.logsumexp(s.ref, -1).sub(np.sum(yt.mul(s), -1))).div(BN);
  };

  return [
    {
      group: 'peers',
      name: `matmul ${M}³`,
      op: 'fwd',
      flops: 2 * M * M * M,
      impls: [
        dgImpl(MATMUL, { M, K: M, N: M }, { A, B }, 'forward', { pick: (o) => ({ Y: o.Y! }) }),
        tfImpl(({ A: a, B: b }) => ({ Y: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D) }), { A: f32(A), B: f32(B) }),
        jaxImpl(({ A: a, B: b }) => ({ Y: np.matmul(a!, b!) }), { A: both(A), B: both(B) }),
        ortImpl('MatMul', { A: f32(A), B: f32(B) }, { Y: [M, M] }),
      ],
    },
    {
      group: 'peers',
      name: `conv 3×3 p1 ${CN}×${CC}×${CH}×${CW} → ${CO}`,
      op: 'fwd',
      flops: convFlops,
      impls: [
        dgImpl(CONV, { N: CN, C: CC, O: CO, H: CH, W: CW }, { X, K }, 'forward', { pick: (o) => ({ Y: o.Y! }) }),
        jaxImpl(({ X: x, K: k }) => ({ Y: jax.lax.conv(x!, k!, [1, 1], 'SAME') }), { X: both(X), K: both(K) }),
        ortImpl('Conv', { X: f32(X), K: f32(K) }, { Y: [CN, CO, CH, CW] }, { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
      ],
    },
    {
      group: 'peers',
      name: `conv 3×3 p1 ${CN}×${CC}×${CH}×${CW} → ${CO}`,
      op: 'fwd+bwd',
      flops: 3 * convFlops,
      impls: [
        dgImpl(CONV, { N: CN, C: CC, O: CO, H: CH, W: CW }, { X, K }, 'backward', { seeds: { dY: dY.f32 }, pick: (o) => ({ dX: o.dX!, dK: o.dK! }) }),
        jaxImpl(
          ({ X: x, K: k, dY: dy }) => {
            const g = jax.grad((p: Record<string, JaxArray>, d: JaxArray) => np.sum(jax.lax.conv(p.X!, p.K!, [1, 1], 'SAME').mul(d)))({ X: x!, K: k! }, dy!) as Record<string, JaxArray>;
            return { dX: g.X!, dK: g.K! };
          },
          { X: both(X), K: both(K), dY: both(dY) },
        ),
      ],
    },
    {
      group: 'peers',
      name: `MLP step ${BD}→${BH}→${BC}, batch ${BN}`,
      op: 'fwd+bwd',
      impls: [
        dgImpl(MLP, { N: BN, D: BD, H: BH, C: BC }, { X: Xb, Yt, W1, b1, W2, b2 }, 'backward', { wrt: ['W1', 'b1', 'W2', 'b2'], pick: (o) => ({ dW1: o.dW1!, db1: o.db1!, dW2: o.dW2!, db2: o.db2! }) }),
        jaxImpl(
          ({ X: x, Yt: yt, W1: w1, b1: c1, W2: w2, b2: c2 }) => {
            const g = jax.grad(mlpLoss)({ W1: w1!, b1: c1!, W2: w2!, b2: c2! }, x!, yt!) as Record<string, JaxArray>;
            return { dW1: g.W1!, db1: g.b1!, dW2: g.W2!, db2: g.b2! };
          },
          { X: both(Xb), Yt: both(Yt), W1: both(W1), b1: both(b1), W2: both(W2), b2: both(b2) },
          { note: "jax-js 0.1.25's dW1 and db1 differ by ~1e-2 from a float64 loop written out by hand (deltagrad's by ~1e-7); dW2 and db2 agree" },
        ),
      ],
    },
    {
      group: 'peers',
      name: `log-softmax ${SN}×${SC}`,
      op: 'fwd',
      impls: [
        dgImpl(LOGSOFTMAX, { N: SN, C: SC }, { X: S }, 'forward', { pick: (o) => ({ Y: o.Y! }) }),
        tfImpl(({ X: x }) => ({ Y: tf.logSoftmax(x!) }), { X: f32(S) }),
        jaxImpl(({ X: x }) => ({ Y: jax.nn.logSoftmax(x!, -1) }), { X: both(S) }),
        ortImpl('LogSoftmax', { X: f32(S) }, { Y: [SN, SC] }, { axis: 1 }),
      ],
    },
  ];
}
