// matmul M×K · K×N for M = K = N = 256, 512, 1024: deltagrad's packed GEMM (float32, float64), the
// same GEMM with its JavaScript micro-kernel (simd: false), the naive loop nest, TF.js cpu and wasm
// (tf.matMul).
import type { Case, Impl } from '../lib/cases.js';
import { uniform } from '../lib/data.js';
import { alloc, kernel, kernels, type Dt } from '../lib/deltagrad.js';
import { read, tf, tidyRun, useBackend, type TfBackend } from '../lib/tfjs.js';

export const MATMUL_SOURCE = 'dims M, K, N\nA: [M, K]\nB: [K, N]\nY[i,j] = A[i,k]*B[k,j]';

/** the GEMM with its JavaScript micro-kernel: what the WebAssembly one gains */
export const SIMD_OFF = { variant: 'simd: false', note: 'emit(…, { simd: false }): the micro-kernel in JavaScript', skipQuick: true } as const;

export function matmulCases(): Case[] {
  return [256, 512, 1024].map((n) => {
    const A = uniform(1, [n, n]);
    const B = uniform(2, [n, n]);
    const sizes = { M: n, K: n, N: n };
    const dg = (dt: Dt, optimize: boolean, extra: Partial<Impl> = {}): Impl => ({
      impl: optimize ? 'deltagrad' : 'deltagrad-naive',
      dtype: dt,
      reference: optimize && dt === 'f64' && !extra.variant,
      ...extra,
      setup() {
        const f = kernel(kernels(MATMUL_SOURCE, dt, optimize, !extra.variant), 'forward_Y');
        const t = { A: A[dt], B: B[dt], Y: alloc(dt, n * n) };
        return { run: () => f(t, sizes), outputs: () => (f(t, sizes), { Y: t.Y }) };
      },
    });
    const tfImpl = (backend: TfBackend): Impl => ({
      impl: `tfjs-${backend}`,
      dtype: 'f32',
      ...(backend === 'cpu' && n >= 512 ? { skipQuick: true } : {}),
      async setup() {
        await useBackend(backend);
        const a = tf.tensor2d(A.f32, [n, n]);
        const b = tf.tensor2d(B.f32, [n, n]);
        return {
          run: tidyRun(() => tf.matMul(a, b)),
          outputs: () => read(() => ({ Y: tf.matMul(a, b) })),
          dispose: () => tf.dispose([a, b]),
        };
      },
    });
    return {
      group: 'matmul',
      name: `matmul ${n}³`,
      op: 'Y = A·B',
      flops: 2 * n * n * n,
      ...(n === 1024 ? { skipQuick: true } : {}),
      impls: [dg('f64', true), dg('f32', true), dg('f64', true, SIMD_OFF), dg('f32', true, SIMD_OFF), dg('f64', false, n === 1024 ? { skip: 'seconds per call (0.2 GFLOP/s); 256³ and 512³ show the naive nest' } : n >= 512 ? { skipQuick: true } : {}), dg('f32', false, n === 1024 ? { skip: 'seconds per call (0.2 GFLOP/s); 256³ and 512³ show the naive nest' } : {}), tfImpl('cpu'), tfImpl('wasm')],
    };
  });
}
