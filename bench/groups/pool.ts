// maxpool 2×2 stride 2 on 32×16×28×28 (examples/layers/maxpool2d.dg): forward, and backward alone.
// deltagrad's forward row is infer_Y, what compile()'s forward and the module's infer() run (no
// backward follows, so no arg-max record); its `recording` variant is forward_Y, which also writes
// the record the optimized backward reads (the module's forward(), generated/'s operators, and
// compile()'s backward before its gradients). The naive nest records nothing, so its backward finds
// the maximum again. TF.js: tf.maxPool, and the MaxPoolGrad kernel its gradient uses (given dY, X and Y).
import { readFileSync } from 'node:fs';
import type { Case, Impl, Prepared } from '../lib/cases.js';
import { fromNHWC, toNHWC, uniform } from '../lib/data.js';
import { alloc, kernel, kernels, type Dt } from '../lib/deltagrad.js';
import { jax, jaxImpl } from '../lib/jax.js';
import { read, runKernel, tf, tidyRun, useBackend, type TfBackend } from '../lib/tfjs.js';

const SOURCE = readFileSync(new URL('../../examples/layers/maxpool2d.dg', import.meta.url), 'utf8');
const N = 32;
const C = 16;
const H = 28;
const W = 28;

export function poolCases(): Case[] {
  const Ho = H / 2;
  const Wo = W / 2;
  const xShape = [N, C, H, W];
  const yShape = [N, C, Ho, Wo];
  const X = uniform(31, xShape);
  const dY = uniform(32, yShape);
  const sizes = { N, C, H, W };
  const name = `maxpool 2×2/2 ${N}×${C}×${H}×${W}`;

  const dg = (op: 'fwd' | 'bwd', dt: Dt, optimize: boolean, recording = false): Impl => ({
    impl: optimize ? 'deltagrad' : 'deltagrad-naive',
    dtype: dt,
    ...(recording ? { variant: 'recording' } : {}),
    reference: optimize && dt === 'f64' && !recording,
    setup(): Prepared {
      const m = kernels(SOURCE, dt, optimize);
      const fwd = kernel(m, optimize && op === 'fwd' && !recording ? 'infer_Y' : 'forward_Y');
      const bwd = kernel(m, 'backward_dX');
      const t = { X: X[dt], dY: dY[dt], Y: alloc(dt, N * C * Ho * Wo), Y_argmax: new Int32Array(N * C * Ho * Wo), dX: alloc(dt, X.f64.length) };
      fwd(t, sizes);
      const run = op === 'fwd' ? () => fwd(t, sizes) : () => bwd(t, sizes);
      return { run, outputs: (): Record<string, ArrayLike<number>> => (run(), op === 'fwd' ? { Y: t.Y } : { dX: t.dX }) };
    },
  });

  const tfImpl = (op: 'fwd' | 'bwd', backend: TfBackend): Impl => ({
    impl: `tfjs-${backend}`,
    dtype: 'f32',
    ...(backend === 'wasm' && op === 'bwd'
      ? { note: 'TF.js 4.22 WASM MaxPoolGrad drops the gradient of every window whose maximum is negative (hence err ≈ 1 on this signed data; after a ReLU it cannot show)' }
      : {}),
    async setup(): Promise<Prepared> {
      await useBackend(backend);
      const x = tf.tensor4d(toNHWC(X.f32, xShape), [N, H, W, C]);
      const dy = tf.tensor4d(toNHWC(dY.f32, yShape), [N, Ho, Wo, C]);
      const y = tf.maxPool(x, 2, 2, 'valid');
      const fn: () => tf.Tensor =
        op === 'fwd'
          ? () => tf.maxPool(x, 2, 2, 'valid')
          : () => runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: 2, strides: 2, pad: 'valid', dimRoundingMode: undefined });
      return {
        run: tidyRun(fn),
        outputs: (): Record<string, ArrayLike<number>> => {
          const v = read(() => ({ o: fn() })).o!;
          return op === 'fwd' ? { Y: fromNHWC(v, yShape) } : { dX: fromNHWC(v, xShape) };
        },
        dispose: () => tf.dispose([x, dy, y]),
      };
    },
  });

  return (['fwd', 'bwd'] as const).map((op) => ({
    group: 'maxpool',
    name,
    op,
    impls: [
      dg(op, 'f64', true),
      dg(op, 'f32', true),
      ...(op === 'fwd' ? [dg(op, 'f64', true, true), dg(op, 'f32', true, true)] : []),
      dg(op, 'f64', false),
      dg(op, 'f32', false),
      tfImpl(op, 'cpu'),
      tfImpl(op, 'wasm'),
      // jax-js: the window's max as a reshape (even sizes) and a max over the two window axes
      ...(op === 'fwd' ? [jaxImpl(({ X: x }) => ({ Y: jax.numpy.max(x!.reshape([N, C, Ho, 2, Wo, 2]), [3, 5]) }), { X: [X.f32, xShape] })] : []),
    ],
  }));
}
