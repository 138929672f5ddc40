// formatWorker: the thread in which emitTs's async path runs prettier.
//
// Worked example: emitTs posts { id: 3, text: 'export function f(){return 1}' }; this thread answers
// { id: 3, text: 'export function f() {\n  return 1;\n}\n' } (or { id: 3, error }), formatted with
// the options emitTs passed in workerData.
// Plain JavaScript so that it runs without a TypeScript loader: emitTs starts it with an empty
// execArgv, and prettier loads without tsx's module hooks (they add a third of a second).
import { parentPort, workerData } from 'node:worker_threads';

const { options } = workerData;

// A module shaped like emitTs's output. Formatting it once loads prettier's parser and printer and
// warms them while the main thread is still loading ts-morph (a first format is ~5× a later one);
// the text it returns is thrown away.
const WARM_UP = `// warm-up
/* eslint-disable */
const relu = (x: number): number => (x > 0 ? x : 0);
/**
 * Y[n,f] = sum(d) X[n,d]*W[f,d] + b[f]
 *
 * writes Y
 */
export function forward_Y(t: { readonly Y: Float64Array; readonly X: Float64Array; readonly W: Float64Array; readonly b: Float64Array }, s: { readonly D: number; readonly F: number; readonly N: number }): void {
    const { Y, X, W, b } = t;
    const { D, F, N } = s;
    // packed 4×4 register tiles
    const $Bp = new Float64Array(256 * Math.ceil(Math.min(512, F) / 4) * 4);
    for (let $jc = 0; $jc < F; $jc += 512) {
      const $nc = Math.min(512, F - $jc);
      let $q = 0;
      for (let $jp = 0; $jp < $nc; $jp += 4) {
        for (let $jj = 0; $jj < 4; $jj++) {
          const $j = $jc + $jp + $jj;
          $Bp[$q++] = $jp + $jj < $nc ? W[$j * D]! : 0;
        }

      }

      for (let $p = 0, $pa = 0, $pb = 4; $p < D; $p++, $pa += 4, $pb += 4) {
        let $c00 = 0, $c01 = 0, $c10 = 0, $c11 = 0;
        const $a0 = $Bp[$pa]!, $a1 = $Bp[$pa + 1]!, $b0 = X[$pb]!, $b1 = X[$pb + 1]!;
        $c00 += $a0 * $b0; $c01 += $a0 * $b1; $c10 += $a1 * $b0; $c11 += $a1 * $b1;
        const $c = ($p === 0 ? 0 : Y[$p]!) + $c00 + $c01 * $c10 - $c11;
        Y[$p] = $p + 1 >= D ? relu($c + b[$p % F]!) : $c;
      }

    }

    if (D === 0) {
      for (let $i = 0; $i < N; $i++) for (let $j = 0; $j < F; $j++) Y[$i * F + $j] = Math.exp(-Math.max(0, b[$j]!)) / (1 + Math.floor(($i - 1) / 2));
    }
}
/**
 * The shape of every tensor of the program for the given sizes.
 */
export function shapes(s: { readonly D: number; readonly F: number; readonly N: number }): Record<'X' | 'W' | 'b' | 'Y', number[]> {
    const { D, F, N } = s;
    return { X: [N, D], W: [F, D], b: [F], Y: [N, F] };
}
export const program = {"inputs":["X","W","b"],"outputs":["Y"],"records":[],"sizes":["D","F","N"],"defaults":{},"dtype":"float64"} as const;
`;

const prettier = import('prettier').then(async (p) => {
  await p.format(WARM_UP, options);
  return p;
});

parentPort.on('message', async ({ id, text }) => {
  try {
    parentPort.postMessage({ id, text: await (await prettier).format(text, options) });
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
