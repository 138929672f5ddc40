// conv2d (examples/layers/conv2d.dg, 3×3 filters): forward, dX and dW (dK) as single kernels.
//   s1: 32×8×28×28, 16 filters, stride 1, padding 1 (same);
//   s2: 32×16×32×32, 32 filters, stride 2, padding 1.
// TF.js (NHWC, filters [R,S,C,F], explicit padding so both sides pad alike): fused conv2d with bias
// forward; the Conv2DBackpropInput and Conv2DBackpropFilter kernels its gradient uses, run directly.
// The WASM backend has no Conv2DBackpropFilter: that row records the error, and a second row times the
// weight gradient built from ops WASM has (a strided slice and a matmul per filter tap).
import { readFileSync } from 'node:fs';
import type { Case, Impl, Prepared } from '../lib/cases.js';
import { fromNHWC, fromRSCF, toNHWC, toRSCF, uniform } from '../lib/data.js';
import { alloc, kernel, kernels, type Dt } from '../lib/deltagrad.js';
import { conv2dFilterGradBySlices, explicitPad, read, runKernel, tf, tidyRun, useBackend, type TfBackend } from '../lib/tfjs.js';

export const CONV_SOURCE = readFileSync(new URL('../../examples/layers/conv2d.dg', import.meta.url), 'utf8');

type Op = 'fwd' | 'dX' | 'dW';

export const CONV_SHAPES = {
  s1: { N: 32, C: 8, H: 28, W: 28, F: 16, R: 3, S: 3, P: 1, T: 1 },
  s2: { N: 32, C: 16, H: 32, W: 32, F: 32, R: 3, S: 3, P: 1, T: 2 },
} as const;

export function convCases(which: 's1' | 's2'): Case[] {
  const sz = CONV_SHAPES[which];
  const { N, C, H, W, F, R, S, P, T } = sz;
  const Ho = Math.floor((H + 2 * P - R) / T) + 1;
  const Wo = Math.floor((W + 2 * P - S) / T) + 1;
  const xShape = [N, C, H, W];
  const kShape = [F, C, R, S];
  const yShape = [N, F, Ho, Wo];
  const X = uniform(21, xShape);
  const K = uniform(22, kShape, -0.3, 0.3);
  const b = uniform(23, [F], -0.1, 0.1);
  const dY = uniform(24, yShape);
  const flops = 2 * N * F * Ho * Wo * C * R * S;
  const name = `conv2d ${which} ${N}×${C}×${H}×${W} ${F}×${R}×${S}/${T} p${P}`;

  const dg = (op: Op, dt: Dt, optimize: boolean): Impl => ({
    impl: optimize ? 'deltagrad' : 'deltagrad-naive',
    dtype: dt,
    reference: optimize && dt === 'f64',
    ...(optimize ? {} : { skipQuick: true }),
    ...(!optimize && dt === 'f32' && op === 'dX' ? { skip: 'the naive dX nest takes seconds per call; float64 shows it' } : {}),
    setup(): Prepared {
      const m = kernels(CONV_SOURCE, dt, optimize);
      const t = { X: X[dt], K: K[dt], b: b[dt], dY: dY[dt], Y: alloc(dt, N * F * Ho * Wo), dX: alloc(dt, X.f64.length), dK: alloc(dt, K.f64.length) };
      const k = kernel(m, op === 'fwd' ? 'forward_Y' : op === 'dX' ? 'backward_dX' : 'backward_dK');
      const out = op === 'fwd' ? 'Y' : op === 'dX' ? 'dX' : 'dK';
      return { run: () => k(t, sz), outputs: () => (k(t, sz), { [out]: t[out] }) };
    },
  });

  const tfImpl = (op: Op, backend: TfBackend, variant?: 'slice-matmul'): Impl => ({
    impl: `tfjs-${backend}`,
    dtype: 'f32',
    ...(variant ? { variant, note: 'dK from a strided slice + matmul per filter tap (WASM has no Conv2DBackpropFilter)' } : {}),
    ...((backend === 'cpu' && op === 'dW') || (variant && which === 's2') ? { skipQuick: true } : {}),
    async setup(): Promise<Prepared> {
      await useBackend(backend);
      const x = tf.tensor4d(toNHWC(X.f32, xShape), [N, H, W, C]);
      const k = tf.tensor4d(toRSCF(K.f32, kShape), [R, S, C, F]);
      const bias = tf.tensor1d(b.f32);
      const dy = tf.tensor4d(toNHWC(dY.f32, yShape), [N, Ho, Wo, F]);
      const attrs = { strides: [T, T], pad: explicitPad(P), dataFormat: 'NHWC', dimRoundingMode: undefined, dilations: [1, 1] };
      const fn: () => tf.Tensor =
        op === 'fwd'
          ? () => tf.fused.conv2d({ x, filter: k, strides: [T, T], pad: explicitPad(P), bias })
          : op === 'dX'
            ? () => runKernel('Conv2DBackpropInput', { dy, filter: k }, { ...attrs, inputShape: [N, H, W, C] })
            : variant
              ? () => conv2dFilterGradBySlices(x, dy, R, S, T, P)
              : () => runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [R, S, C, F] });
      return {
        run: tidyRun(fn),
        outputs: (): Record<string, ArrayLike<number>> => {
          const v = read(() => ({ o: fn() })).o!;
          return op === 'fwd' ? { Y: fromNHWC(v, yShape) } : op === 'dX' ? { dX: fromNHWC(v, xShape) } : { dK: fromRSCF(v, kShape) };
        },
        dispose: () => tf.dispose([x, k, bias, dy]),
      };
    },
  });

  return (['fwd', 'dX', 'dW'] as const).map((op) => ({
    group: `conv-${which}`,
    name,
    op,
    flops,
    impls: [
      dg(op, 'f64', true),
      dg(op, 'f32', true),
      dg(op, 'f64', false),
      dg(op, 'f32', false),
      tfImpl(op, 'cpu'),
      tfImpl(op, 'wasm'),
      ...(op === 'dW' ? [tfImpl(op, 'wasm', 'slice-matmul')] : []),
    ],
  }));
}
