// Property: random matrix-notation programs (generateMatrix.ts) — their gradients agree with central
// differences through the interpreter, their Hessian blocks with central differences of the
// gradient, their kernels with the interpreter, and their gradients' matrix-notation forms (re-parsed
// from the program) with the index forms. Relative error < 1e-6 (first and second order),
// < 1e-9 (kernels); a case with a kink (relu, abs) near its inputs is skipped, never loosened. Replay
// one with DELTAGRAD_PROPERTY_SEED / DELTAGRAD_PROPERTY_PATH as in gradients.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/codegen/compile.js';
import { derive } from '../../src/diff/derive.js';
import { check } from '../../src/ir/check.js';
import { evaluate } from '../../src/ir/evaluate.js';
import { relativeError } from '../../src/ir/gradcheck.js';
import { checkGradients, checkHessians, checkMatrixSources, gradientInputs } from '../helpers.js';
import { generateProgram } from './generate.js';
import { generateMatrixProgram, type GeneratedMatrixProgram } from './generateMatrix.js';
import { nearKink } from './kinks.js';
import { checkCost } from './precise.js';

const RUNS = Number(process.env.DELTAGRAD_MATRIX_RUNS ?? 80);
/** Hessians and kernels cost more: every few programs */
const SECOND_ORDER_EVERY = 3;
const KERNELS_EVERY = 10;
const SEED = Number(process.env.DELTAGRAD_PROPERTY_SEED ?? 16_2026);
const PATH = process.env.DELTAGRAD_PROPERTY_PATH;
const TOLERANCE = 1e-6;

const programs = fc
  .tuple(fc.array(fc.nat({ max: 9999 }), { maxLength: 120, size: 'max' }), fc.integer({ min: 1, max: 1_000_000 }))
  .map(([choices, seed]) => Object.assign(generateMatrixProgram(choices, seed), { [fc.toStringMethod]: function (this: GeneratedMatrixProgram) { return `\n${this.source}\n-- input seed ${this.seed}\n`; } }));

/** the random index-notation programs of gradients.test.ts */
const indexPrograms = fc
  .tuple(fc.array(fc.nat({ max: 9999 }), { maxLength: 400, size: 'max' }), fc.integer({ min: 1, max: 1_000_000 }))
  .map(([choices, seed]) => Object.assign(generateProgram(choices, seed), { [fc.toStringMethod]: function (this: { source: string }) { return `\n${this.source}\n`; } }));

describe('matrix-notation programs: first and second order, and kernels', () => {
  it(
    `${RUNS} random programs (seed ${SEED})`,
    () => {
      const tally = { checked: 0, hessians: 0, kernels: 0, skipped: 0, matrixForms: 0, features: { inv: 0, logdet: 0, transpose: 0, product: 0, intermediate: 0 } };
      let n = 0;
      fc.assert(
        fc.property(programs, (g) => {
          const p = check(g.source);
          const inputs = gradientInputs(p, {}, { seed: g.seed });
          if (nearKink(p, inputs, {})) {
            tally.skipped++;
            return;
          }
          const r = checkGradients(g.source, {}, { seed: g.seed });
          for (const [name, e] of Object.entries(r.errors)) expect(e, `d${name}\n${r.program}`).toBeLessThan(TOLERANCE);
          // the gradients' matrix-notation forms in the program re-parse and compute the index forms' values
          const forms = checkMatrixSources(r.program, { ...r.inputs, ...r.seeds });
          for (const [name, e] of Object.entries(forms)) expect(e, `${name} in matrix notation\n${r.program}`).toBeLessThan(1e-9);
          tally.matrixForms += Object.keys(forms).length;
          tally.checked++;
          n++;
          if (/inv\(/.test(g.source)) tally.features.inv++;
          if (/logdet\(/.test(g.source)) tally.features.logdet++;
          if (/'/.test(g.source)) tally.features.transpose++;
          if (/[\w)']\*[\w(]/.test(g.source)) tally.features.product++;
          if (/^T = /m.test(g.source)) tally.features.intermediate++;
          if (n % SECOND_ORDER_EVERY === 0) {
            // the blocks of two inputs (three blocks): every block of six would cost ten times more
            const wrt = p.tensors.filter((t) => t.role === 'input').map((t) => t.name).slice(0, 2);
            const h = checkHessians(g.source, {}, { seed: g.seed, wrt });
            for (const [key, e] of Object.entries(h.errors)) expect(e, `block ${key}\n${h.program}`).toBeLessThan(TOLERANCE);
            tally.hessians++;
          }
          if (n % KERNELS_EVERY === 0) {
            const k = compile(g.source);
            const ref = evaluate(derive(g.source).program, inputs);
            const fw = k.forward(inputs);
            const bw = k.backward(inputs);
            for (const [name, v] of Object.entries(fw)) expect(relativeError(v, ref[name]!), name).toBeLessThan(1e-9);
            for (const [name, v] of Object.entries(bw)) expect(relativeError(v, ref[name]!), name).toBeLessThan(1e-9);
            tally.kernels++;
          }
        }),
        { seed: SEED, numRuns: RUNS, ...(PATH ? { path: PATH } : {}) },
      );
      console.log(`matrix property: ${tally.checked} programs checked (${tally.hessians} to second order, ${tally.kernels} compiled, ${tally.matrixForms} gradients re-parsed from matrix notation), ${tally.skipped} skipped near a kink; ${JSON.stringify(tally.features)}`);
      expect(tally.checked).toBeGreaterThanOrEqual(RUNS * 0.9);
      expect(tally.matrixForms).toBeGreaterThanOrEqual(RUNS / 2);
      for (const [f, c] of Object.entries(tally.features)) expect(c, f).toBeGreaterThanOrEqual(Math.floor(RUNS / 30));
    },
    120_000,
  );
});

describe('index-notation programs: second order', () => {
  const RUNS2 = Number(process.env.DELTAGRAD_HESSIAN_RUNS ?? 20);
  it(
    `${RUNS2} random programs with one scalar output (seed ${SEED})`,
    () => {
      let checked = 0;
      let skipped = 0;
      fc.assert(
        fc.property(indexPrograms, (g) => {
          const p = check(g.source);
          const outs = p.tensors.filter((t) => t.role === 'output');
          // a loss: one scalar output (the others have no Hessian), small enough to check
          if (outs.length !== 1 || outs[0]!.shape.length !== 0 || checkCost(p, g.sizes) > 100_000) return fc.pre(false);
          const inputs = gradientInputs(p, g.sizes, { seed: g.seed });
          if (nearKink(p, inputs, g.sizes, { distance: 1e-3 })) {
            skipped++;
            return fc.pre(false);
          }
          const wrt = p.tensors.filter((t) => t.role === 'input').map((t) => t.name).slice(0, 2);
          const h = checkHessians(g.source, g.sizes, { seed: g.seed, wrt });
          for (const [key, e] of Object.entries(h.errors)) {
            // a block too small for float64 differences of the gradient to resolve is not checked
            if (e >= TOLERANCE && h.magnitudes[key]! < 1e-4) continue;
            expect(e, `block ${key}\n${h.program}`).toBeLessThan(TOLERANCE);
          }
          checked++;
        }),
        { seed: SEED, numRuns: RUNS2, ...(PATH ? { path: PATH } : {}), maxSkipsPerRun: 20 },
      );
      console.log(`second-order property: ${checked} index programs checked, ${skipped} skipped near a kink`);
      expect(checked).toBeGreaterThanOrEqual(RUNS2 * 0.9);
    },
    120_000,
  );
});
