// jax: jax-js (@jax-js/jax, the JAX API in JavaScript) on its WebAssembly backend — in Node one
// thread (no global Worker) — as a peer: each case's function under jit(), on float32 arrays made
// once outside the timed region; a timed call ends with dataSync() (jax-js is lazy: reading the
// result is what makes it compute; deltagrad's timed call also copies its result out of its memory).
//
// Worked example: jaxImpl('jit', (x) => ({ Y: np.matmul(x.A, x.B) }), { A: [a, [n, n]], B: [b, [n, n]] })
import * as jax from '@jax-js/jax';
import type { Impl, Prepared } from './cases.js';

export { jax };
export type JaxArray = jax.numpy.Array;

let ready: Promise<unknown> | undefined;
/** The WebAssembly backend, once per process. */
export const useJax = (): Promise<unknown> => (ready ??= jax.init('wasm').then(() => jax.defaultDevice('wasm')));

/** A jax-js implementation of a case: `fn` takes its inputs (by name) and returns its outputs (by
 * name), in deltagrad's layout; `back` maps an output back where jax-js's layout differs. */
export function jaxImpl(fn: (x: Record<string, JaxArray>) => Record<string, JaxArray>, inputs: Record<string, [Float32Array, readonly number[]]>, opts: { note?: string; unchecked?: boolean } = {}): Impl {
  return {
    impl: 'jax-js',
    dtype: 'f32',
    ...(opts.note ? { note: opts.note } : {}),
    ...(opts.unchecked ? { unchecked: true } : {}),
    async setup(): Promise<Prepared> {
      await useJax();
      const xs: Record<string, JaxArray> = {};
      for (const [n, [data, shape]] of Object.entries(inputs)) xs[n] = jax.numpy.array(data).reshape([...shape]);
      const names = Object.keys(xs);
      // jit takes its arguments positionally and consumes them: each call passes new references
      const f = jax.jit((...args: JaxArray[]) => fn(Object.fromEntries(names.map((n, i) => [n, args[i]!]))));
      const call = () => f(...names.map((n) => xs[n]!.ref)) as Record<string, JaxArray>;
      const read = (o: Record<string, JaxArray>) => Object.fromEntries(Object.entries(o).map(([k, a]) => [k, a.dataSync() as Float32Array]));
      return {
        run: () => void read(call()),
        outputs: () => read(call()),
        dispose: () => {
          for (const a of Object.values(xs)) a.dispose();
          f.dispose();
        },
      };
    },
  };
}
