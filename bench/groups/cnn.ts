// One full training step (forward, backward, SGD) of the MNIST CNN, batch 32:
//   conv(1→8, 3×3, pad 1) → ReLU → maxpool 2 → conv(8→16, 3×3, pad 1) → ReLU → maxpool 2 →
//   affine(784→10) → softmax cross-entropy, then W ← W − lr·dW for all six parameters.
// deltagrad: the generated layers (generated/index.ts, float64, Operator style) — and the same network
// from the layers emitted with optimize: false. TF.js: the same network (NHWC; the dense weights
// permuted to the NHWC flattening order, so every implementation computes the same numbers) with
// fused conv2d/matMul, tf.train.sgd().minimize. The WASM backend has no Conv2DBackpropFilter, so its
// standard step fails; a variant row computes the filter gradient from slices and matmuls instead.
import { readFileSync } from 'node:fs';
import * as generated from '../../generated/index.js';
import { emit } from '../../src/codegen/compile.js';
import { loadModule } from '../../test/helpers.js';
import { operator, type OperatorContext } from '../../src/codegen/operator.js';
import type { Case, Impl, Prepared } from '../lib/cases.js';
import { fromRSCF, oneHot, toNHWC, toRSCF, uniform, type Data } from '../lib/data.js';
import { conv2dSlicesGrad, explicitPad, tf, useBackend, type TfBackend } from '../lib/tfjs.js';
import { median } from '../lib/timing.js';
import { baseline, usingBaseline } from '../lib/baseline.js';

const N = 32;
const LR = 0.01;

/** The part of an Operator the step uses, for the generated and the naive layers alike. */
interface Layer {
  forward(ctx: OperatorContext, inputs: Record<string, Float64Array | number>, sizes?: Record<string, number>, out?: Record<string, Float64Array>): Record<string, Float64Array>;
  backward(ctx: OperatorContext, seeds?: Record<string, Float64Array | number>, opts?: { wrt?: string[] }): Record<string, Float64Array>;
}
interface Layers {
  conv2d: Layer;
  relu: Layer;
  maxpool2d: Layer;
  affine: Layer;
  softmaxCrossEntropy: Layer;
  sgd: Layer;
}

const generatedLayers = (): Layers => (usingBaseline() ? baseline.generated() : generated) as unknown as Layers;

function naiveLayers(): Layers {
  const load = (file: string, name: string): Layer => {
    const source = readFileSync(new URL(`../../examples/layers/${file}.dg`, import.meta.url), 'utf8');
    return operator(loadModule(emit(source, { dtype: 'float64', optimize: false })) as never, name) as unknown as Layer;
  };
  return {
    conv2d: load('conv2d', 'conv2d'),
    relu: load('relu', 'relu'),
    maxpool2d: load('maxpool2d', 'maxpool2d'),
    affine: load('affine', 'affine'),
    softmaxCrossEntropy: load('softmax_xent', 'softmaxCrossEntropy'),
    sgd: load('sgd', 'sgd'),
  };
}

const SHAPES = { K1: [8, 1, 3, 3], b1: [8], K2: [16, 8, 3, 3], b2: [16], W: [10, 784], b: [10] } as const;
type ParamName = keyof typeof SHAPES;
const PARAMS = Object.keys(SHAPES) as ParamName[];

/**
 * One step with deltagrad layers; updates `p` in place and returns the loss (before the update).
 * `lap(name)` (optional) is called after each layer call, for the per-layer breakdown.
 */
function dgStep(L: Layers, p: Record<ParamName, Float64Array>, X: Float64Array, Yt: Float64Array, lap: (name: string) => void = () => {}): number {
  const c = Array.from({ length: 8 }, (): OperatorContext => ({}));
  const { Y: z1 } = L.conv2d.forward(c[0]!, { X, K: p.K1, b: p.b1 }, { N, C: 1, H: 28, W: 28, F: 8, P: 1 });
  lap('conv1 fwd');
  const { Y: a1 } = L.relu.forward(c[1]!, { X: z1! }, { N, D: 8 * 28 * 28 });
  lap('relu1 fwd');
  const { Y: m1 } = L.maxpool2d.forward(c[2]!, { X: a1! }, { N, C: 8, H: 28, W: 28 });
  lap('pool1 fwd');
  const { Y: z2 } = L.conv2d.forward(c[3]!, { X: m1!, K: p.K2, b: p.b2 }, { N, C: 8, H: 14, W: 14, F: 16, P: 1 });
  lap('conv2 fwd');
  const { Y: a2 } = L.relu.forward(c[4]!, { X: z2! }, { N, D: 16 * 14 * 14 });
  lap('relu2 fwd');
  const { Y: m2 } = L.maxpool2d.forward(c[5]!, { X: a2! }, { N, C: 16, H: 14, W: 14 });
  lap('pool2 fwd');
  const { Y: S } = L.affine.forward(c[6]!, { X: m2!, W: p.W, b: p.b }, { N, D: 784, F: 10 });
  lap('affine fwd');
  const { L: loss } = L.softmaxCrossEntropy.forward(c[7]!, { S: S!, Yt }, { N, C: 10 });
  const { dS } = L.softmaxCrossEntropy.backward(c[7]!);
  lap('softmax xent fwd+bwd');
  const { dX: dm2, dW, db } = L.affine.backward(c[6]!, { dY: dS! });
  lap('affine bwd (dX, dW, db)');
  const { dX: da2 } = L.maxpool2d.backward(c[5]!, { dY: dm2! });
  lap('pool2 bwd');
  const { dX: dz2 } = L.relu.backward(c[4]!, { dY: da2! });
  lap('relu2 bwd');
  const { dX: dm1, dK: dK2, db: db2 } = L.conv2d.backward(c[3]!, { dY: dz2! });
  lap('conv2 bwd (dX, dK, db)');
  const { dX: da1 } = L.maxpool2d.backward(c[2]!, { dY: dm1! });
  lap('pool1 bwd');
  const { dX: dz1 } = L.relu.backward(c[1]!, { dY: da1! });
  lap('relu1 bwd');
  const { dK: dK1, db: db1 } = L.conv2d.backward(c[0]!, { dY: dz1! }, { wrt: ['K', 'b'] });
  lap('conv1 bwd (dK, db)');
  const grads: Record<ParamName, Float64Array> = { K1: dK1!, b1: db1!, K2: dK2!, b2: db2!, W: dW!, b: db! };
  for (const k of PARAMS) L.sgd.forward({}, { W: p[k], G: grads[k], lr: LR }, { D: p[k].length }, { Wnew: p[k] });
  lap('sgd (6 parameters)');
  return loss![0]!;
}

/** deltagrad layout → TF.js layout of each parameter */
const toTf = (k: ParamName, v: Float32Array): { values: Float32Array; shape: number[] } => {
  if (k === 'K1' || k === 'K2') {
    const [f, c, r, s] = SHAPES[k];
    return { values: toRSCF(v, SHAPES[k]), shape: [r, s, c, f] };
  }
  // W[f, (c,h,w)] → Wt[(h,w,c), f]: the NHWC flattening order
  if (k === 'W') return { values: toRSCF(v, [10, 16, 7, 7]), shape: [784, 10] };
  return { values: v, shape: [...SHAPES[k]] };
};
const fromTf = (k: ParamName, v: Float32Array): Float32Array =>
  k === 'K1' || k === 'K2' ? fromRSCF(v, SHAPES[k]) : k === 'W' ? fromRSCF(v, [10, 16, 7, 7]) : v;

function cnnData() {
  const init: Record<ParamName, Data> = {
    K1: uniform(51, SHAPES.K1, -0.5, 0.5),
    b1: uniform(52, SHAPES.b1, -0.05, 0.05),
    K2: uniform(53, SHAPES.K2, -0.2, 0.2),
    b2: uniform(54, SHAPES.b2, -0.05, 0.05),
    W: uniform(55, SHAPES.W, -0.05, 0.05),
    b: uniform(56, SHAPES.b, -0.05, 0.05),
  };
  const X = uniform(57, [N, 1, 28, 28], 0, 1);
  const Yt = oneHot(58, N, 10);
  return { init, X, Yt };
}

export function cnnCases(): Case[] {
  const { init, X, Yt } = cnnData();

  const dg = (optimize: boolean): Impl => ({
    impl: optimize ? 'deltagrad' : 'deltagrad-naive',
    dtype: 'f64',
    reference: optimize,
    ...(optimize ? {} : { skipQuick: true }),
    ...(optimize ? { note: 'generated/index.ts layers (Operator API, float64)' } : {}),
    setup(): Prepared {
      const L = optimize ? generatedLayers() : naiveLayers();
      const fresh = () => Object.fromEntries(PARAMS.map((k) => [k, Float64Array.from(init[k].f64)])) as Record<ParamName, Float64Array>;
      const p = fresh();
      return {
        run: () => void dgStep(L, p, X.f64, Yt.f64),
        outputs: () => {
          const q = fresh();
          const loss = dgStep(L, q, X.f64, Yt.f64);
          return { L: [loss], ...q };
        },
      };
    },
  });

  const tfImpl = (backend: TfBackend, variant?: 'slice-matmul'): Impl => ({
    impl: `tfjs-${backend}`,
    dtype: 'f32',
    ...(variant ? { variant, note: 'conv filter gradient from a strided slice + matmul per tap (custom gradient)' } : {}),
    ...(backend === 'cpu' ? { skipQuick: true } : {}),
    async setup(): Promise<Prepared> {
      await useBackend(backend);
      const x = tf.tensor4d(toNHWC(X.f32, [N, 1, 28, 28]), [N, 28, 28, 1]);
      const yt = tf.tensor2d(Yt.f32, [N, 10]);
      const conv = variant
        ? (() => {
            const c = conv2dSlicesGrad(1, 1);
            return (h: tf.Tensor4D, k: tf.Tensor4D, b: tf.Tensor1D) => tf.relu(c(h, k, b));
          })()
        : (h: tf.Tensor4D, k: tf.Tensor4D, b: tf.Tensor1D) => tf.fused.conv2d({ x: h, filter: k, strides: 1, pad: explicitPad(1), bias: b, activation: 'relu' });
      const makeVars = () =>
        Object.fromEntries(
          PARAMS.map((k) => {
            const { values, shape } = toTf(k, init[k].f32);
            return [k, tf.variable(tf.tensor(values, shape), true, undefined, 'float32')];
          }),
        ) as Record<ParamName, tf.Variable>;
      const lossOf = (v: Record<ParamName, tf.Variable>) => () => {
        let h = conv(x, v.K1 as tf.Tensor4D, v.b1 as tf.Tensor1D);
        h = tf.maxPool(h, 2, 2, 'valid');
        h = conv(h, v.K2 as tf.Tensor4D, v.b2 as tf.Tensor1D);
        h = tf.maxPool(h, 2, 2, 'valid');
        const logits = tf.fused.matMul({ a: tf.reshape(h, [N, 784]), b: v.W as tf.Tensor2D, bias: v.b });
        return tf.losses.softmaxCrossEntropy(yt, logits) as tf.Scalar;
      };
      const opt = tf.train.sgd(LR);
      const vars = makeVars();
      const step = lossOf(vars);
      const varList = PARAMS.map((k) => vars[k]);
      return {
        run: () => {
          tf.dispose(opt.minimize(step, true, varList) ?? []);
        },
        outputs: () => {
          const v = makeVars();
          const loss = opt.minimize(lossOf(v), true, PARAMS.map((k) => v[k]))!;
          const out: Record<string, ArrayLike<number>> = { L: loss.dataSync() };
          for (const k of PARAMS) out[k] = fromTf(k, v[k].dataSync() as Float32Array);
          tf.dispose([loss, ...Object.values(v)]);
          return out;
        },
        dispose: () => tf.dispose([x, yt, ...varList]),
      };
    },
  });

  return [
    {
      group: 'cnn',
      name: `MNIST CNN train step, batch ${N}`,
      op: 'fwd+bwd+SGD',
      impls: [dg(true), dg(false), tfImpl('cpu'), tfImpl('cpu', 'slice-matmul'), tfImpl('wasm'), tfImpl('wasm', 'slice-matmul')],
    },
  ];
}

/**
 * Where the generated step spends its time: the median CPU time of every layer call over `steps`
 * steps (after warm-up), in step order. The conv backward calls compute dX, dK and db (the Operator
 * API computes every input's gradient, also dX of the first conv, which nobody needs).
 */
export function cnnBreakdown(steps: number): { layer: string; cpuMs: number }[] {
  const d = cnnData();
  const L = generatedLayers();
  const p = Object.fromEntries(PARAMS.map((k) => [k, Float64Array.from(d.init[k].f64)])) as Record<ParamName, Float64Array>;
  for (let i = 0; i < 3; i++) dgStep(L, p, d.X.f64, d.Yt.f64);
  const laps = new Map<string, number[]>();
  for (let s = 0; s < steps; s++) {
    let c0 = process.cpuUsage();
    dgStep(L, p, d.X.f64, d.Yt.f64, (name) => {
      const c = process.cpuUsage(c0);
      const list = laps.get(name) ?? [];
      list.push((c.user + c.system) / 1000);
      laps.set(name, list);
      c0 = process.cpuUsage();
    });
  }
  return [...laps].map(([layer, v]) => ({ layer, cpuMs: median(v) }));
}
