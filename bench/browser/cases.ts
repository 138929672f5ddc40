// The shared cases of the browser-threads group: what deltagrad and jax-js (@jax-js/jax) both do,
// float32, deltagrad's layout (NCHW). Each case is data — deltagrad's program, its sizes and call,
// and jax-js's version as a function of the jax-js module it is given (the page loads two: one per
// worker count). `tiny` shrinks every size for the test (test/browser/threadsBench.test.ts).
//   matmul         Y = A·B                                    1024³ and 512³
//   conv fwd       3×3, padding 1, 16 → 32 channels           8 × 16 × 32 × 32
//   conv fwd+bwd   dX and dK for a given dY                   same
//   MLP step       784 → 256 (ReLU) → 10, softmax xent        batch 128: dW1 db1 dW2 db2
//   softmax xent   loss and dS                                512 × 1000
//   layer norm     mean, variance, normalise·g + b            512 × 1024
//   elementwise    Y = max(X·G + B, 0)·0.5 + X                1M elements
//
// Worked example: browserCases(false)[0] is { name: 'matmul 1024³', op: 'fwd', source: 'dims M, K, N…',
// call: 'forward', inputs: { A: [data, [1024, 1024]], … }, check: ['Y'], jax: (jax, x) => ({ Y: … }) }.
import type * as JaxModule from '@jax-js/jax';
import { oneHot, uniform, type Data } from '../lib/data.js';

export type Jax = typeof JaxModule;
export type JaxArray = JaxModule.numpy.Array;

export interface BrowserCase {
  readonly name: string;
  readonly op: string;
  readonly flops?: number;
  readonly source: string;
  readonly sizes: Record<string, number>;
  /** forward: the outputs; backward: the gradients (wrt), the seeds given, the forward's values through `out` */
  readonly call: 'forward' | 'backward';
  readonly wrt?: readonly string[];
  readonly seeds?: Record<string, Data>;
  readonly inputs: Record<string, Data>;
  /** the arrays compared across implementations (deltagrad names: Y, dX, …) */
  readonly check: readonly string[];
  /** jax-js's version (run under jit), from its arrays of the inputs and seeds, by name */
  readonly jax: (jax: Jax, x: Record<string, JaxArray>) => Record<string, JaxArray>;
  /** left out of --quick runs (the slowest: a smoke run stays short) */
  readonly skipQuick?: boolean;
  /** run jax-js's version op by op rather than under jit (where its jit is the slower of the two) */
  readonly eager?: boolean;
  readonly note?: string;
}

const MATMUL = 'dims M, K, N\nA: [M, K]\nB: [K, N]\nY[i,j] = A[i,k]*B[k,j]';
const CONV = 'dims N, C, O, H, W\nX: [N, C, H, W]\nK: [O, C, 3, 3]\nY[n,o,h,w] = sum(c, i:3, j:3) K[o,c,i,j] * X[n,c,h+i-1,w+j-1]';
const MLP =
  'dims N, D, H, C\nX: [N, D]\nYt: [N, C]\nW1: [H, D]\nb1: [H]\nW2: [C, H]\nb2: [C]\n' +
  'A[n,h] = relu(sum(d) W1[h,d] * X[n,d] + b1[h])\nS[n,c] = sum(h) W2[c,h] * A[n,h] + b2[c]\n' +
  'L = sum(n) (logsumexp(c) S[n,c] - sum(c) Yt[n,c] * S[n,c]) / N';
const XENT = 'dims N, C\nS: [N, C]\nYt: [N, C]\nL = sum(n) (logsumexp(c) S[n,c] - sum(c) Yt[n,c] * S[n,c]) / N';
const LAYER_NORM =
  'dims N, D\nX: [N, D]\ng: [D]\nb: [D]\nm[n] = sum(d) X[n,d] / D\nv[n] = sum(d) (X[n,d] - m[n])^2 / D\n' +
  'Y[n,d] = (X[n,d] - m[n]) / sqrt(v[n] + 0.00001) * g[d] + b[d]';
const CHAIN = 'dims I\nX: [I]\nG: [I]\nB: [I]\nY[i] = max(X[i] * G[i] + B[i], 0) * 0.5 + X[i]';

function matmul(n: number, seed: number): BrowserCase {
  return {
    name: `matmul ${n}³`,
    op: 'fwd',
    flops: 2 * n * n * n,
    source: MATMUL,
    sizes: { M: n, K: n, N: n },
    call: 'forward',
    inputs: { A: uniform(seed, [n, n]), B: uniform(seed + 1, [n, n]) },
    check: ['Y'],
    jax: (jax, { A, B }) => ({ Y: jax.numpy.matmul(A!, B!) }),
  };
}

export function browserCases(tiny: boolean): BrowserCase[] {
  const [CN, CC, CO, CH, CW] = tiny ? [2, 3, 4, 6, 7] : [8, 16, 32, 32, 32];
  const [BN, BD, BH, BC] = tiny ? [4, 12, 8, 5] : [128, 784, 256, 10];
  const [SN, SC] = tiny ? [6, 7] : [512, 1000];
  const [LN, LD] = tiny ? [5, 9] : [512, 1024];
  const EN = tiny ? 37 : 1 << 20;
  const conv = { source: CONV, sizes: { N: CN, C: CC, O: CO, H: CH, W: CW }, inputs: { X: uniform(103, [CN, CC, CH, CW]), K: uniform(104, [CO, CC, 3, 3]) } };
  // jax-js 0.1.25 runs a convolution far slower under jit than op by op (in Node 62× against 6.3×)
  const convEager = { eager: true, note: 'jax-js op by op (eager): its jit of a convolution is the slower' };
  const convFlops = 2 * CN * CO * CH * CW * CC * 9;
  const xent = (jax: Jax, s: JaxArray, yt: JaxArray, n: number) => jax.numpy.sum(jax.nn.logsumexp(s.ref, -1).sub(jax.numpy.sum(yt.mul(s), -1))).div(n);
  return [
    { ...matmul(tiny ? 33 : 1024, 101), skipQuick: true },
    matmul(tiny ? 17 : 512, 201),
    { ...conv, ...convEager, name: `conv 3×3 p1 ${CN}×${CC}×${CH}×${CW} → ${CO}`, op: 'fwd', flops: convFlops, call: 'forward', check: ['Y'], jax: (jax, { X, K }) => ({ Y: jax.lax.conv(X!, K!, [1, 1], 'SAME') }) },
    {
      ...conv,
      ...convEager,
      name: `conv 3×3 p1 ${CN}×${CC}×${CH}×${CW} → ${CO}`,
      op: 'fwd+bwd',
      flops: 3 * convFlops,
      skipQuick: true,
      call: 'backward',
      seeds: { dY: uniform(105, [CN, CO, CH, CW]) },
      check: ['dX', 'dK'],
      jax: (jax, { X, K, dY }) => {
        const g = jax.grad((p: Record<string, JaxArray>, d: JaxArray) => jax.numpy.sum(jax.lax.conv(p.X!, p.K!, [1, 1], 'SAME').mul(d)))({ X: X!, K: K! }, dY!) as Record<string, JaxArray>;
        return { dX: g.X!, dK: g.K! };
      },
    },
    {
      name: `MLP step ${BD}→${BH}→${BC}, batch ${BN}`,
      op: 'fwd+bwd',
      source: MLP,
      sizes: { N: BN, D: BD, H: BH, C: BC },
      call: 'backward',
      wrt: ['W1', 'b1', 'W2', 'b2'],
      inputs: { X: uniform(106, [BN, BD]), Yt: oneHot(107, BN, BC), W1: uniform(108, [BH, BD], -0.05, 0.05), b1: uniform(109, [BH], -0.1, 0.1), W2: uniform(110, [BC, BH], -0.1, 0.1), b2: uniform(111, [BC], -0.1, 0.1) },
      check: ['dW1', 'db1', 'dW2', 'db2'],
      jax: (jax, { X, Yt, W1, b1, W2, b2 }) => {
        const np = jax.numpy;
        const loss = (p: Record<string, JaxArray>, x: JaxArray, yt: JaxArray) => {
          const a = jax.nn.relu(np.matmul(x, p.W1!.transpose()).add(p.b1!));
          return xent(jax, np.matmul(a, p.W2!.transpose()).add(p.b2!), yt, BN);
        };
        const g = jax.grad(loss)({ W1: W1!, b1: b1!, W2: W2!, b2: b2! }, X!, Yt!) as Record<string, JaxArray>;
        return { dW1: g.W1!, db1: g.b1!, dW2: g.W2!, db2: g.b2! };
      },
    },
    {
      name: `softmax xent ${SN}×${SC}`,
      op: 'fwd+bwd',
      source: XENT,
      sizes: { N: SN, C: SC },
      call: 'backward',
      wrt: ['S'],
      inputs: { S: uniform(112, [SN, SC], -3, 3), Yt: oneHot(113, SN, SC) },
      check: ['L', 'dS'],
      jax: (jax, { S, Yt }) => {
        const [L, dS] = jax.valueAndGrad((s: JaxArray, yt: JaxArray) => xent(jax, s, yt, SN))(S!, Yt!) as [JaxArray, JaxArray];
        return { L, dS };
      },
    },
    {
      name: `layer norm ${LN}×${LD}`,
      op: 'fwd',
      source: LAYER_NORM,
      sizes: { N: LN, D: LD },
      call: 'forward',
      inputs: { X: uniform(114, [LN, LD]), g: uniform(115, [LD]), b: uniform(116, [LD]) },
      check: ['Y'],
      jax: (jax, { X, g, b }) => {
        const np = jax.numpy;
        const d = X!.ref.sub(np.mean(X!, 1, { keepdims: true }));
        const v = np.mean(np.square(d.ref), 1, { keepdims: true });
        return { Y: d.div(np.sqrt(v.add(1e-5))).mul(g!).add(b!) };
      },
    },
    {
      name: `elementwise chain ${EN}`,
      op: 'fwd',
      source: CHAIN,
      sizes: { I: EN },
      call: 'forward',
      inputs: { X: uniform(117, [EN]), G: uniform(118, [EN]), B: uniform(119, [EN]) },
      check: ['Y'],
      jax: (jax, { X, G, B }) => ({ Y: jax.numpy.maximum(X!.ref.mul(G!).add(B!), 0).mul(0.5).add(X!) }),
    },
  ];
}
