// The CNN of cnn.ts on WebGPU: conv(1→F1, 3×3, pad 1) → ReLU → maxpool 2 → conv(F1→F2) → ReLU →
// maxpool 2 → affine → softmax cross-entropy, each layer a program of examples/layers compiled with
// { target: 'webgpu' }, and the update the sgd_momentum layer, in place. Every tensor stays on the
// device: a step queues the forward kernels, the backward kernels and the updates, and reads back
// nothing but the loss. Platform-neutral: the layer sources and the device come from the caller
// (a page reads them from wherever it likes; Node would pass a device of the `webgpu` package).
//
// Worked example:
//   const cnn = await createGpuCnn(device, sources, { batch: 32, image: 28 }, rand);
//   const loss = await cnn.step(images, onehot, 0.04);     // Float32Arrays of one batch
//   const scores = await cnn.scores(images);                // [batch, classes]
import { compile, type GpuDevice, type GpuForward, type GpuKernel, type GpuTensor } from '../../src/index.js';

/** the layers the model is made of, as examples/layers has them */
export type CnnSources = Record<'conv2d' | 'relu' | 'maxpool2d' | 'affine' | 'softmax_xent' | 'sgd_momentum', string>;

export interface GpuCnnSizes {
  readonly batch: number;
  readonly image?: number;
  readonly f1?: number;
  readonly f2?: number;
  readonly classes?: number;
  readonly mu?: number;
}

export interface GpuCnn {
  /** one step of SGD with momentum on a batch: images [batch, 1, image, image], one-hot labels [batch, classes]; the batch's mean loss */
  step(images: Float32Array, onehot: Float32Array, lr: number): Promise<number>;
  /** class scores [batch, classes] */
  scores(images: Float32Array): Promise<Float32Array>;
  /** the parameters' current values */
  params(): Promise<Record<string, Float32Array>>;
}

/** `init`: starting values of some parameters (K1, b1, K2, b2, W3, b3), e.g. those of the CPU model */
export async function createGpuCnn(device: GpuDevice, sources: CnnSources, sizes: GpuCnnSizes, random: () => number, init: Readonly<Record<string, Float32Array>> = {}): Promise<GpuCnn> {
  const N = sizes.batch;
  const S0 = sizes.image ?? 28;
  const F1 = sizes.f1 ?? 8;
  const F2 = sizes.f2 ?? 16;
  const C = sizes.classes ?? 10;
  const mu = sizes.mu ?? 0.9;
  const S1 = S0 / 2;
  const S2 = S1 / 2;
  if (!Number.isInteger(S2)) throw new Error(`the image size must be a multiple of 4, got ${S0}`);
  const D3 = F2 * S2 * S2;
  const gpu = (source: string, s: Record<string, number>) => compile(source, { target: 'webgpu', sizes: s, device }).gpu();
  const [conv1, relu1, pool1, conv2, relu2, pool2, dense, loss] = await Promise.all([
    gpu(sources.conv2d, { N, C: 1, H: S0, W: S0, F: F1 }),
    gpu(sources.relu, { N, D: F1 * S0 * S0 }),
    gpu(sources.maxpool2d, { N, C: F1, H: S0, W: S0 }),
    gpu(sources.conv2d, { N, C: F1, H: S1, W: S1, F: F2 }),
    gpu(sources.relu, { N, D: F2 * S1 * S1 }),
    gpu(sources.maxpool2d, { N, C: F2, H: S1, W: S1 }),
    gpu(sources.affine, { N, D: D3, F: C }),
    gpu(sources.softmax_xent, { N, C }),
  ]) as [GpuKernel, GpuKernel, GpuKernel, GpuKernel, GpuKernel, GpuKernel, GpuKernel, GpuKernel];
  // He-initialised weights (Box–Muller from the caller's uniform numbers), zero biases
  const gaussian = (n: number, sd: number) => Float32Array.from({ length: n }, () => sd * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
  const params: [string, GpuKernel, string, Float32Array][] = [
    ['K1', conv1, 'K', gaussian(F1 * 9, Math.sqrt(2 / 9))],
    ['b1', conv1, 'b', new Float32Array(F1)],
    ['K2', conv2, 'K', gaussian(F2 * F1 * 9, Math.sqrt(2 / (F1 * 9)))],
    ['b2', conv2, 'b', new Float32Array(F2)],
    ['W3', dense, 'W', gaussian(C * D3, Math.sqrt(1 / D3))],
    ['b3', dense, 'b', new Float32Array(C)],
  ];
  const P: Record<string, GpuTensor> = {};
  const V: Record<string, GpuTensor> = {};
  const G: Record<string, GpuTensor> = {};
  for (const [name, k, key, data] of params) {
    P[name] = k.tensor(key, init[name] ?? data);
    V[name] = k.tensor(key, new Float32Array(data.length));
    G[name] = k.tensor(`d${key}`);
  }
  const updates = await Promise.all(params.map(([, , , data]) => gpu(sources.sgd_momentum, { D: data.length })));
  // the tensors of one forward, reused by the next (forward(inputs, out))
  let f: Record<string, GpuForward> | undefined;
  const forward = (X: Float32Array | GpuTensor) => {
    const z1 = conv1.forward({ X, K: P.K1!, b: P.b1! }, f?.z1);
    const a1 = relu1.forward({ X: z1.Y! }, f?.a1);
    const p1 = pool1.forward({ X: a1.Y! }, f?.p1);
    const z2 = conv2.forward({ X: p1.Y!, K: P.K2!, b: P.b2! }, f?.z2);
    const a2 = relu2.forward({ X: z2.Y! }, f?.a2);
    const p2 = pool2.forward({ X: a2.Y! }, f?.p2);
    const s = dense.forward({ X: p2.Y!, W: P.W3!, b: P.b3! }, f?.s);
    f = { z1, a1, p1, z2, a2, p2, s };
    return f;
  };
  // the gradients of the activations, made once
  const d = { p2: dense.tensor('X'), a2: pool2.tensor('X'), z2: relu2.tensor('X'), p1: conv2.tensor('X'), a1: pool1.tensor('X'), z1: relu1.tensor('X') };
  let l: GpuForward | undefined;
  return {
    async step(images, onehot, lr) {
      const t = forward(images);
      l = loss.forward({ S: t.s!.Y!, Yt: onehot }, l);
      const { dS } = loss.backward({ S: t.s!.Y!, Yt: onehot }, {}, { forward: l, wrt: ['S'] });
      dense.backward({ X: t.p2!.Y!, W: P.W3!, b: P.b3! }, { dY: dS! }, { forward: t.s!, out: { dX: d.p2, dW: G.W3!, db: G.b3! } });
      dS!.destroy();
      pool2.backward({ X: t.a2!.Y! }, { dY: d.p2 }, { forward: t.p2!, out: { dX: d.a2 } });
      relu2.backward({ X: t.z2!.Y! }, { dY: d.a2 }, { forward: t.a2!, out: { dX: d.z2 } });
      conv2.backward({ X: t.p1!.Y!, K: P.K2!, b: P.b2! }, { dY: d.z2 }, { forward: t.z2!, out: { dX: d.p1, dK: G.K2!, db: G.b2! } });
      pool1.backward({ X: t.a1!.Y! }, { dY: d.p1 }, { forward: t.p1!, out: { dX: d.a1 } });
      relu1.backward({ X: t.z1!.Y! }, { dY: d.a1 }, { forward: t.a1!, out: { dX: d.z1 } });
      conv1.backward({ X: images, K: P.K1!, b: P.b1! }, { dY: d.z1 }, { forward: t.z1!, wrt: ['K', 'b'], out: { dK: G.K1!, db: G.b1! } });
      params.forEach(([name], i) => updates[i]!.forward({ W: P[name]!, V: V[name]!, G: G[name]!, lr, mu }, { Wnew: P[name]!, Vnew: V[name]! }));
      return (await l.L!.read())[0]!;
    },
    async scores(images) {
      return forward(images).s!.Y!.read();
    },
    async params() {
      const out: Record<string, Float32Array> = {};
      for (const [name] of params) out[name] = await P[name]!.read();
      return out;
    },
  };
}
