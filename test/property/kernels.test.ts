// Property: on random programs (the generator of gradients.test.ts), the compiled kernels — the
// optimized ones (the cost rule choosing WebAssembly or JavaScript per kernel, and every kernel it can
// as WebAssembly) and the naive loop nest — compute the same forward values and gradients as the
// reference interpreter running the derived program (float64, relative error < 1e-9). With
// gradients.test.ts checking the interpreter against central differences, this carries the
// numerical check over to the emitted code. Emitting costs ~0.1 s a program, so fewer programs run
// here than there; DELTAGRAD_KERNEL_RUNS raises the count (`npm run test:deep` runs 300).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/codegen/compile.js';
import { check } from '../../src/ir/check.js';
import { resolveSizes, run, shapeOf } from '../../src/ir/evaluate.js';
import { relativeError, seededRandom } from '../../src/ir/gradcheck.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { backwardProgram } from '../../src/diff/derive.js';
import { gradientInputs } from '../helpers.js';
import { generateProgram } from './generate.js';

/** the same program generator as gradients.test.ts */
const programs = fc
  .tuple(fc.array(fc.nat({ max: 9999 }), { maxLength: 400, size: 'max' }), fc.integer({ min: 1, max: 1_000_000 }))
  .map(([choices, seed]) => Object.assign(generateProgram(choices, seed), { [fc.toStringMethod]: function (this: { source: string }) { return `\n${this.source}\n`; } }));

const RUNS = Number(process.env.DELTAGRAD_KERNEL_RUNS ?? 30);
const SEED = 7_2026;

describe('compiled kernels agree with the interpreter on random programs', () => {
  it(
    `${RUNS} random programs, optimized and naive (seed ${SEED})`,
    () => {
      let checked = 0;
      fc.assert(
        fc.property(programs, (g) => {
          const p = check(g.source);
          const inputs = gradientInputs(p, g.sizes, { seed: g.seed });
          const sizes = resolveSizes(p, inputs, g.sizes);
          const rand = seededRandom(g.seed + 1);
          const seeds: Record<string, Float64Array> = {};
          for (const t of p.tensors)
            if (t.role === 'output') seeds[`d${t.name}`] = Float64Array.from({ length: shapeOf(p, t.name, sizes).reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1);
          const ref = run(check(backwardProgram(p, differentiate(p, { unitScalarSeeds: false }))), { ...inputs, ...seeds }, g.sizes);
          const allSizes = Object.fromEntries(sizes);
          for (const [optimize, wasm] of [[true, 'auto'], [true, 'always'], [false, 'auto']] as const) {
            const k = compile(g.source, { sizes: allSizes, optimize, wasm });
            const fwd = k.forward(inputs);
            const bwd = k.backward(inputs, seeds);
            for (const [name, v] of [...Object.entries(fwd), ...Object.entries(bwd)]) {
              const err = relativeError(v, ref[name]!);
              if (!(err < 1e-9)) throw new Error(`${optimize ? `optimized (wasm: ${wasm})` : 'naive'} ${name}: relative error ${err}\n${g.source}\nsizes ${JSON.stringify(allSizes)}`);
            }
          }
          checked++;
        }),
        { seed: SEED, numRuns: RUNS },
      );
      expect(checked).toBe(RUNS);
    },
    60_000 + RUNS * 3_000,
  );
});
