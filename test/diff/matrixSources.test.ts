// Every matrix form is checked by its meaning (issue 16: "a test parses the display form back, or a
// documented grammar"): a form with a matrix-notation statement (derive's matrixNotation option writes
// it in `program`) is re-parsed and evaluated against the index form; a batched form, dQ[h] =
// dS[h]·K[h]/sqrt(E), is evaluated slice by slice from its per-slice statement; the rest — the
// convolution family's correlations, Kronecker forms, max pooling's mask — are the documented display
// grammar of docs/language.md, parsed back in correlation.test.ts and matrixForms.test.ts.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/index.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { renderMatrix } from '../../src/diff/renderMatrix.js';
import { check } from '../../src/ir/check.js';
import { resolveSizes, run, shapeOf } from '../../src/ir/evaluate.js';
import { randomInputs, relativeError, seededRandom } from '../../src/ir/gradcheck.js';
import { DERIVED_LIMITS } from '../../src/ir/limits.js';
import { checkMatrixSources, layer } from '../helpers.js';

const LAYERS = readdirSync(fileURLToPath(new URL('../../examples/layers/', import.meta.url)))
  .filter((f) => f.endsWith('.dg'))
  .map((f) => f.slice(0, -3))
  .sort();

const EXTRA: Record<string, string> = {
  softmax: 'dims N=3, C=4\nX: [N, C]\nY[n,c] = exp(X[n,c] - logsumexp(k) X[n,k])',
  cosine_rows: 'dims N=3, D=4\nX: [N, D]\nY: [N, D]\nS[n] = sum(d) X[n,d]*Y[n,d] / (sqrt(sum(e) X[n,e]*X[n,e]) * sqrt(sum(e) Y[n,e]*Y[n,e]))',
  cosine: "dims D=4\nx: [D]\ny: [D]\ns = x'*y / (norm2(x)*norm2(y))",
  count: 'dims N=3, M=2\nA: [N, M]\ns: []\nf = s*sum(i:N,j:M) 1 + sum(i,j) A[i,j]^2',
};

/** The display grammar that is not matrix notation (docs/language.md, "The matrix form"). */
const DOCUMENTED = [
  /⋆/, // a correlation, ⋆[t, d, p] (correlation.test.ts evaluates each)
  /^d\w+ = Σ_\{[\w, ]+\} \w+: /, // a channel sum, db = Σ_{n, u, v} dY
  /⊗ 1_/, // upsampling by a block of ones
  /   where M = /, // max pooling's routing mask
];

/** Sizes for a layer: every size without a value is 3, with room for a 3×3 kernel where it slides. */
function sizesOf(src: string): Record<string, number> {
  const p = check(src);
  return Object.fromEntries(p.sizes.filter((s) => s.default === undefined).map((s) => [s.name, ['H', 'W', 'L'].includes(s.name) ? 6 : 3]));
}

/** Each batched form's per-slice statement, evaluated slice by slice against the index form's values. */
function checkSlices(src: string, sizes: Record<string, number>, seed: number): Record<string, number> {
  const p = check(src);
  const info = new Map(p.tensors.map((t) => [t.name, t] as const));
  const shapes = (t: string) => info.get(t)?.shape ?? (t.startsWith('d') ? info.get(t.slice(1))?.shape : undefined);
  const q = check(derive(src).program, DERIVED_LIMITS);
  const inputs = randomInputs(q, sizes, seededRandom(seed), -1, 1);
  const values: Record<string, Float64Array> = { ...inputs, ...run(q, inputs, sizes) };
  const sz = resolveSizes(q, inputs, sizes);
  const dims = `dims ${[...sz].map(([k, v]) => `${k}=${v}`).join(', ')}`;
  const errors: Record<string, number> = {};
  for (const g of differentiate(p, { unitScalarSeeds: true })) {
    const form = renderMatrix(g.statement, shapes);
    if (!form?.sliceSource) continue;
    const [, out, b, rhs] = /^(\w+)\[(\w+)\] = (.*)$/.exec(form.sliceSource)!;
    const sliced = [...new Set([...rhs!.matchAll(new RegExp(`(\\w+)\\[${b}\\]`, 'g'))].map((m) => m[1]!))];
    const full = shapeOf(q, out!, sz);
    const per = full.slice(1).reduce((a, x) => a * x, 1);
    const got = new Float64Array(full.reduce((a, x) => a * x, 1));
    for (let k = 0; k < full[0]!; k++) {
      const data: Record<string, Float64Array> = {};
      const decls = sliced.map((t) => {
        const sh = shapeOf(q, t, sz);
        const n = sh.slice(1).reduce((a, x) => a * x, 1);
        data[t] = values[t]!.slice(k * n, (k + 1) * n);
        return `${t}: [${sh.slice(1).join(', ')}]`;
      });
      const slice = `${dims}\n${decls.join('\n')}\n${out}_slice: [${full.slice(1).join(', ')}]\n${out}_slice = ${rhs!.replace(new RegExp(`\\[${b}\\]`, 'g'), '')}\n`;
      got.set(run(check(slice, DERIVED_LIMITS), data)[`${out}_slice`]!, k * per);
    }
    expect(values[out!]!.some((v) => v !== 0), out).toBe(true);
    errors[out!] = relativeError(got, values[out!]!);
  }
  return errors;
}

describe('every matrix form is checked by its meaning', () => {
  const tally = { forms: 0, reparsed: 0, slices: 0, documented: 0, gradients: 0 };
  for (const name of [...LAYERS, ...Object.keys(EXTRA)])
    it(name, () => {
      const src = EXTRA[name] ?? layer(name);
      const sizes = sizesOf(src);
      const r = derive(src, { matrixNotation: true });
      const lines = [...r.program.matchAll(/^# matrix notation: (\w+) = /gm)].map((m) => m[1]!);
      const inputs = randomInputs(check(r.program, DERIVED_LIMITS), sizes, seededRandom(31), 0.5, 1.5);
      const reparsed = lines.length ? checkMatrixSources(r.program, inputs, sizes) : {};
      for (const [n, e] of Object.entries(reparsed)) expect(e, `${n} re-parsed`).toBeLessThan(1e-12);
      const slices = checkSlices(src, sizes, 37);
      for (const [n, e] of Object.entries(slices)) expect(e, `${n} per slice`).toBeLessThan(1e-12);
      for (const [x, g] of Object.entries(r.gradients)) {
        tally.gradients++;
        if (!g.matrix) continue;
        tally.forms++;
        const d = `d${x}`;
        if (d in reparsed) tally.reparsed++;
        else if (d in slices) tally.slices++;
        else {
          expect(DOCUMENTED.some((re) => re.test(g.matrix!)), `${g.matrix} is neither re-parsed nor documented grammar`).toBe(true);
          tally.documented++;
        }
      }
    });
  it('the tally: most forms are re-parsed and evaluated', () => {
    console.log(`matrix forms: ${tally.forms} of ${tally.gradients} gradients; ${tally.reparsed} re-parsed as matrix notation, ${tally.slices} evaluated per slice, ${tally.documented} documented display grammar`);
    expect(tally.reparsed + tally.slices).toBeGreaterThan(tally.documented * 3);
  });
});
