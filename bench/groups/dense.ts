// dense layer with ReLU, 128×784 → 256 (examples/layers/affine_relu.dg): forward, dX, dW, and
// forward + dX + dW. TF.js: fused matMul (bias + relu) with the kernel stored [D, F] as tf.layers keeps
// it (fused matMul with transposeB and a bias gives wrong numbers on the WASM backend of 4.22: relative
// error ≈ 0.4 against the CPU backend); the gradient as TF.js computes it (dZ = dY ⊙ step(Y), dX = dZ·Wᵀ, dW = Xᵀ·dZ);
// forward + dX + dW through tf.valueAndGrads.
import { readFileSync } from 'node:fs';
import type { Case, Impl, Prepared } from '../lib/cases.js';
import { permute, uniform } from '../lib/data.js';
import { alloc, kernel, kernels, type Dt } from '../lib/deltagrad.js';
import { read, tf, tidyRun, useBackend, type TfBackend } from '../lib/tfjs.js';
import { SIMD_OFF } from './matmul.js';

const SOURCE = readFileSync(new URL('../../examples/layers/affine_relu.dg', import.meta.url), 'utf8');
const N = 128;
const D = 784;
const F = 256;

type Op = 'fwd' | 'dX' | 'dW' | 'fwd+dX+dW';

export function denseCases(): Case[] {
  const X = uniform(11, [N, D]);
  const W = uniform(12, [F, D], -0.1, 0.1);
  const b = uniform(13, [F], -0.1, 0.1);
  const dY = uniform(14, [N, F]);
  const sizes = { N, D, F };
  const mm = 2 * N * D * F;

  const dg = (op: Op, dt: Dt, optimize: boolean, simd = true): Impl => ({
    impl: optimize ? 'deltagrad' : 'deltagrad-naive',
    dtype: dt,
    reference: optimize && dt === 'f64' && simd,
    ...(optimize ? {} : { skipQuick: true }),
    ...(simd ? {} : SIMD_OFF),
    setup(): Prepared {
      const m = kernels(SOURCE, dt, optimize, simd);
      const fwd = kernel(m, 'forward_Y');
      const kdX = kernel(m, 'backward_dX');
      const kdW = kernel(m, 'backward_dW');
      const t = { X: X[dt], W: W[dt], b: b[dt], dY: dY[dt], Y: alloc(dt, N * F), dX: alloc(dt, N * D), dW: alloc(dt, F * D) };
      fwd(t, sizes); // Y for the gradient kernels (they read the mask Y > 0)
      const run =
        op === 'fwd'
          ? () => fwd(t, sizes)
          : op === 'dX'
            ? () => kdX(t, sizes)
            : op === 'dW'
              ? () => kdW(t, sizes)
              : () => {
                  fwd(t, sizes);
                  kdX(t, sizes);
                  kdW(t, sizes);
                };
      const outputs = (): Record<string, ArrayLike<number>> => {
        run();
        return op === 'fwd' ? { Y: t.Y } : op === 'dX' ? { dX: t.dX } : op === 'dW' ? { dW: t.dW } : { Y: t.Y, dX: t.dX, dW: t.dW };
      };
      return { run, outputs };
    },
  });

  const tfImpl = (op: Op, backend: TfBackend): Impl => ({
    impl: `tfjs-${backend}`,
    dtype: 'f32',
    note: 'kernel stored [D, F] as tf.layers keeps it (on WASM, fused matMul with transposeB and a bias gives wrong numbers in 4.22)',
    ...(backend === 'cpu' && op === 'fwd+dX+dW' ? { skipQuick: true } : {}),
    async setup(): Promise<Prepared> {
      await useBackend(backend);
      const x = tf.tensor2d(X.f32, [N, D]);
      // TF.js keeps a dense kernel as [D, F] (tf.layers.dense does): W transposed once, outside timing
      const w = tf.tensor2d(permute(W.f32, [F, D], [1, 0]), [D, F]);
      const bias = tf.tensor1d(b.f32);
      const dy = tf.tensor2d(dY.f32, [N, F]);
      const forward = (xx: tf.Tensor2D, ww: tf.Tensor2D) => tf.fused.matMul({ a: xx, b: ww, bias, activation: 'relu' });
      const y = forward(x, w);
      const valueAndGrads = tf.valueAndGrads((xx, ww) => forward(xx as tf.Tensor2D, ww as tf.Tensor2D));
      const fn: () => Record<string, tf.Tensor> =
        op === 'fwd'
          ? () => ({ Y: forward(x, w) })
          : op === 'dX'
            ? () => ({ dX: tf.matMul(tf.mul(dy, tf.step(y)), w, false, true) })
            : op === 'dW'
              ? () => ({ dW: tf.matMul(x, tf.mul(dy, tf.step(y)), true, false) })
              : () => {
                  const { value, grads } = valueAndGrads([x, w], dy);
                  return { Y: value, dX: grads[0]!, dW: grads[1]! };
                };
      return {
        run: tidyRun(fn),
        outputs: () => {
          const o = read(fn);
          return o.dW ? { ...o, dW: permute(o.dW, [D, F], [1, 0]) } : o;
        },
        dispose: () => tf.dispose([x, w, bias, dy, y]),
      };
    },
  });

  const ops: { op: Op; flops: number }[] = [
    { op: 'fwd', flops: mm },
    { op: 'dX', flops: mm },
    { op: 'dW', flops: mm },
    { op: 'fwd+dX+dW', flops: 3 * mm },
  ];
  return ops.map(({ op, flops }) => ({
    group: 'dense',
    name: `dense ${N}×${D}→${F} relu`,
    op,
    flops,
    ...(op === 'fwd+dX+dW' ? { skipQuick: true } : {}),
    impls: [dg(op, 'f64', true), dg(op, 'f32', true), dg(op, 'f64', true, false), dg(op, 'f64', false), dg(op, 'f32', false), tfImpl(op, 'cpu'), tfImpl(op, 'wasm')],
  }));
}
