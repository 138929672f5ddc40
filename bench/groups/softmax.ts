// softmax cross-entropy, 128 samples × 10 classes, averaged over the batch
// (examples/layers/softmax_xent.dg): forward + backward (the loss and dS). deltagrad runs forward_L
// then backward_dS (not backward_dYt: nobody needs the gradient with respect to the labels).
// TF.js: tf.valueAndGrad of tf.losses.softmaxCrossEntropy.
import { readFileSync } from 'node:fs';
import type { Case, Impl, Prepared } from '../lib/cases.js';
import { oneHot, uniform } from '../lib/data.js';
import { alloc, kernel, kernels, type Dt } from '../lib/deltagrad.js';
import { read, tf, tidyRun, useBackend, type TfBackend } from '../lib/tfjs.js';

const SOURCE = readFileSync(new URL('../../examples/layers/softmax_xent.dg', import.meta.url), 'utf8');
const N = 128;
const C = 10;

export function softmaxCases(): Case[] {
  const Sc = uniform(41, [N, C], -3, 3);
  const Yt = oneHot(42, N, C);
  const sizes = { N, C };

  const dg = (dt: Dt, optimize: boolean): Impl => ({
    impl: optimize ? 'deltagrad' : 'deltagrad-naive',
    dtype: dt,
    reference: optimize && dt === 'f64',
    setup(): Prepared {
      const m = kernels(SOURCE, dt, optimize);
      const fwd = kernel(m, 'forward_L');
      const bwd = kernel(m, 'backward_dS');
      const t = { S: Sc[dt], Yt: Yt[dt], L: alloc(dt, 1), dL: (dt === 'f32' ? Float32Array : Float64Array).of(1), dS: alloc(dt, N * C) };
      const run = () => {
        fwd(t, sizes);
        bwd(t, sizes);
      };
      return { run, outputs: () => (run(), { L: t.L, dS: t.dS }) };
    },
  });

  const tfImpl = (backend: TfBackend): Impl => ({
    impl: `tfjs-${backend}`,
    dtype: 'f32',
    async setup(): Promise<Prepared> {
      await useBackend(backend);
      const s = tf.tensor2d(Sc.f32, [N, C]);
      const yt = tf.tensor2d(Yt.f32, [N, C]);
      const vg = tf.valueAndGrad((logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(yt, logits) as tf.Scalar);
      const fn = () => {
        const { value, grad } = vg(s);
        return { L: value, dS: grad };
      };
      return { run: tidyRun(fn), outputs: () => read(fn), dispose: () => tf.dispose([s, yt]) };
    },
  });

  return [
    {
      group: 'softmax',
      name: `softmax xent ${N}×${C}`,
      op: 'fwd+bwd',
      impls: [dg('f64', true), dg('f32', true), dg('f64', false), dg('f32', false), tfImpl('cpu'), tfImpl('wasm')],
    },
  ];
}
