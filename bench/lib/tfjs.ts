// tfjs: the TF.js peers — the pure-JS CPU backend and the WASM backend (XNNPACK, SIMD; one thread in
// Node, which has no SharedArrayBuffer worker pool for it). The .wasm binaries are loaded from
// node_modules by path.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export { tf };
export type TfBackend = 'cpu' | 'wasm';

let wasmConfigured = false;

/** Make `name` the active backend (the WASM one is configured on first use). */
export async function useBackend(name: TfBackend): Promise<void> {
  if (name === 'wasm' && !wasmConfigured) {
    const require = createRequire(import.meta.url);
    setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
    setThreadsCount(1);
    wasmConfigured = true;
  }
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`TF.js backend ${name} did not initialise`);
  }
  await tf.ready();
}

/** What the WASM backend runs with (after useBackend('wasm')). */
export function wasmInfo(): { simd: boolean; threads: number } {
  return { simd: Boolean(tf.env().getBool('WASM_HAS_SIMD_SUPPORT')), threads: getThreadsCount() };
}

/** Run a kernel by name, the way TF.js's own gradient functions call it. */
export function runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>): tf.Tensor {
  return tf.engine().runKernel(name, inputs as never, attrs as never) as tf.Tensor;
}

/** Dispose every tensor a call made (ops are eager and synchronous on both backends). */
export function tidyRun(fn: () => tf.TensorContainer): () => void {
  return () => {
    tf.dispose(tf.tidy(fn));
  };
}

/** Run `fn` once and read its tensors back (copies), disposing everything it made. */
export function read(fn: () => Record<string, tf.Tensor>): Record<string, Float32Array> {
  const out = tf.tidy(fn);
  const values = Object.fromEntries(Object.entries(out).map(([k, t]) => [k, Float32Array.from(t.dataSync() as Float32Array)]));
  tf.dispose(Object.values(out));
  return values;
}

export type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];
export const explicitPad = (p: number): ExplicitPad => [
  [0, 0],
  [p, p],
  [p, p],
  [0, 0],
];

/**
 * The conv2d weight gradient from ops the WASM backend does have (it has no Conv2DBackpropFilter):
 * for each filter tap (r, s), the strided window of the padded input times dY, one matmul each:
 *   dK[r,s,:,:] = Xpad[:, r::T, s::T, :]ᵀ · dY   (as [N·Ho·Wo, C]ᵀ · [N·Ho·Wo, F]).
 * x: NHWC, dy: [N, Ho, Wo, F]; returns [R, S, C, F].
 */
export function conv2dFilterGradBySlices(x: tf.Tensor4D, dy: tf.Tensor4D, R: number, S: number, T: number, P: number): tf.Tensor4D {
  const [n, , , c] = x.shape;
  const [, ho, wo, f] = dy.shape;
  const xp = tf.pad(x, explicitPad(P));
  const dy2 = tf.reshape(dy, [n * ho * wo, f]);
  const taps: tf.Tensor2D[] = [];
  for (let r = 0; r < R; r++)
    for (let s = 0; s < S; s++) {
      const win = tf.stridedSlice(xp, [0, r, s, 0], [n, r + (ho - 1) * T + 1, s + (wo - 1) * T + 1, c], [1, T, T, 1]);
      taps.push(tf.matMul(tf.reshape(win, [n * ho * wo, c]), dy2, true, false));
    }
  return tf.reshape(tf.stack(taps), [R, S, c, f]);
}

/**
 * conv2d + bias whose gradient uses conv2dFilterGradBySlices for the filter (so it runs on WASM):
 * dx through Conv2DBackpropInput (tf.conv2dTranspose), dK by slices, db by a sum.
 */
export function conv2dSlicesGrad(T: number, P: number) {
  return tf.customGrad((x, k, b, save) => {
    const xx = x as tf.Tensor4D;
    const kk = k as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xx, kk]);
    return {
      value: tf.fused.conv2d({ x: xx, filter: kk, strides: [T, T], pad: explicitPad(P), bias: b as tf.Tensor1D }),
      gradFunc: (dy, saved) => {
        const [sx, sk] = saved as [tf.Tensor4D, tf.Tensor4D];
        const d = dy as tf.Tensor4D;
        const [R, S] = sk.shape;
        return [
          tf.conv2dTranspose(d, sk, sx.shape, [T, T], explicitPad(P) as never),
          conv2dFilterGradBySlices(sx, d, R, S, T, P),
          tf.sum(d, [0, 1, 2]),
        ];
      },
    };
  }) as (x: tf.Tensor4D, k: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D;
}

/**
 * `run`, made to run on the backend active now: the interleaved timing calls the implementations
 * of a case in turn, and TF.js has one global backend (switching to an initialised one is synchronous).
 */
export function pinBackend(run: () => void): () => void {
  const backend = tf.getBackend();
  return () => {
    if (tf.getBackend() !== backend) void tf.setBackend(backend);
    run();
  };
}
