// A model whose whole network — layers and loss — is one program given to compile(), here with
// { threads: n }: one backward call per step gives every parameter's gradient (and, through `out`,
// the scores and the loss), its kernels shared out between n worker threads (docs/threads.md).
// This is the examples' --threads path: the generated/ layers are precompiled modules with no
// worker threads behind them, so the threaded models compile their program instead.
//
// Worked example:
//   const m = compiledModel({ name: 'cnn-mnist', params, classes: 10, program: CNN_PROGRAM, threads: 2 });
//   const { loss, scores, grads } = await m.step(x, onehot, 32);   // grads in the order of params
import { compile, type ThreadedKernel } from '../../src/index.js';
import type { Model } from '../lib/train.js';
import type { Param } from '../lib/weights.js';

export interface CompiledModelOptions {
  readonly name: string;
  readonly params: readonly Param[];
  readonly classes: number;
  /** a program with inputs X [N, …] and Yt [N, classes], the parameters by name, an intermediate S
   *  [N, classes] (the scores) and the scalar output L (the batch's mean loss) */
  readonly program: string;
  readonly constants?: Record<string, number>;
  readonly threads: number;
}

export function compiledModel(o: CompiledModelOptions): Model & { readonly threads: number; dispose(): void } {
  const kernels = new Map<number, ThreadedKernel>();
  const wrt = o.params.map((p) => p.name);
  // one kernel per batch size (the last batch of an epoch may be short; evaluation runs 500 at a time)
  const kernelFor = (n: number) => {
    let k = kernels.get(n);
    if (!k) kernels.set(n, (k = compile(o.program, { sizes: { N: n }, wrt, threads: o.threads, ...(o.constants ? { constants: o.constants } : {}) })));
    return k;
  };
  const inputs = (x: Float64Array, onehot: Float64Array) => ({ X: x, Yt: onehot, ...Object.fromEntries(o.params.map((p) => [p.name, p.data])) });
  // one set of result arrays per batch size, reused by every step: a fresh gradient array's pages
  // fault in on its first write (0.15–0.24 ms of a 4–7 ms CNN step, docs/threads.md). So a step's
  // scores and gradients hold until the next step — the training loop applies them before it.
  type Out = { S: Float64Array; L: Float64Array } & Record<string, Float64Array>;
  const outs = new Map<number, Out>();
  const outFor = (n: number): Out => {
    let out = outs.get(n);
    if (!out) outs.set(n, (out = { ...Object.fromEntries(o.params.map((p) => [`d${p.name}`, new Float64Array(p.data.length)])), S: new Float64Array(n * o.classes), L: new Float64Array(1) } as Out));
    return out;
  };
  return {
    name: o.name,
    params: o.params,
    classes: o.classes,
    threads: kernelFor(1).threads,
    async step(x, onehot, n) {
      const out = outFor(n);
      const g = await kernelFor(n).backward(inputs(x, onehot), {}, out);
      return { loss: out.L[0]!, scores: out.S, grads: o.params.map((p) => g[`d${p.name}`] as Float64Array) };
    },
    async scores(x, n) {
      const r = await kernelFor(n).forward(inputs(x, new Float64Array(n * o.classes)));
      return r.S as Float64Array;
    },
    dispose() {
      for (const k of kernels.values()) k.dispose();
      kernels.clear();
    },
  };
}

/** The CNN of cnn.ts as one program (image S0 × S0, a multiple of 4). */
export function cnnProgram(s: { image: number; f1: number; f2: number; classes: number }): string {
  const [S0, S1, S2] = [s.image, s.image / 2, s.image / 4];
  return `# conv(1→F1, 3×3, pad 1) → ReLU → maxpool 2 → conv(F1→F2, 3×3, pad 1) → ReLU → maxpool 2 → affine → softmax cross-entropy
dims N, F1=${s.f1}, F2=${s.f2}, Q=${s.classes}
X: [N, 1, ${S0}, ${S0}]
K1: [F1, 1, 3, 3]
b1: [F1]
K2: [F2, F1, 3, 3]
b2: [F2]
W3: [Q, F2 * ${S2 * S2}]
b3: [Q]
Yt: [N, Q]
Z1: [N, F1, ${S0}, ${S0}]
A1: [N, F1, ${S0}, ${S0}]
P1: [N, F1, ${S1}, ${S1}]
Z2: [N, F2, ${S1}, ${S1}]
A2: [N, F2, ${S1}, ${S1}]
P2: [N, F2, ${S2}, ${S2}]
S: [N, Q]
Z1[n,f,u,v] = K1[f,c,i,j] * X[n,c,u+i-1,v+j-1] + b1[f]
A1[n,f,u,v] = relu(Z1[n,f,u,v])
P1[n,f,u,v] = max(i:2, j:2) A1[n,f,2*u+i,2*v+j]
Z2[n,f,u,v] = K2[f,c,i,j] * P1[n,c,u+i-1,v+j-1] + b2[f]
A2[n,f,u,v] = relu(Z2[n,f,u,v])
P2[n,f,u,v] = max(i:2, j:2) A2[n,f,2*u+i,2*v+j]
S[n,q] = W3[q, f*${S2 * S2} + u*${S2} + v] * P2[n,f,u,v] + b3[q]
L = sum(n) (logsumexp(q) S[n,q] - sum(q) Yt[n,q]*S[n,q]) / N
`;
}

/** The MLP of mlp.ts as one program, with the penalty lam·(ΣW1² + ΣW2²) in the loss. */
export function mlpProgram(s: { input: number; hidden: number; classes: number }): string {
  return `# affine → ReLU → affine → softmax cross-entropy, + lam·(ΣW1² + ΣW2²)
dims N, D=${s.input}, H=${s.hidden}, C=${s.classes}
const lam = 0
X: [N, D]
W1: [H, D]
b1: [H]
W2: [C, H]
b2: [C]
Yt: [N, C]
A: [N, H]
S: [N, C]
A[n,h] = relu(X[n,d]*W1[h,d] + b1[h])
S[n,c] = A[n,h]*W2[c,h] + b2[c]
L = sum(n) (logsumexp(c) S[n,c] - sum(c) Yt[n,c]*S[n,c]) / N + lam*(sum(h,d) W1[h,d]^2 + sum(c,h) W2[c,h]^2)
`;
}
