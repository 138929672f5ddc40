// Second order through data-dependent subscripts (issue 16, item 6): a gradient with a scatter-add,
// dE[tok[n],d] += …, is differentiated again — the derivative of an accumulation is the accumulation
// of derivatives — so derive(src, { order: 2 }) gives the Hessian blocks (checked by central
// differences of the gradient) and compile(...).hvp gives H·v (checked by central differences of
// backward along v, in JavaScript and in WebAssembly).
import { describe, expect, it } from 'vitest';
import { compile, derive, evaluate } from '../../src/index.js';
import { seededRandom } from '../../src/ir/gradcheck.js';
import { checkHessians, errorOf } from '../helpers.js';

const TOK = [2, 0, 2, 3, 0, 2];
const PROGRAMS: [string, string, Record<string, number[]>][] = [
  ['a squared embedding', 'dims V=5, D=3, N=6\nE: [V, D]\ntok: int[N]\nL = sum(n,d) E[tok[n], d]^2', { tok: TOK }],
  [
    'an embedding through a weight, tanh and an offset row',
    'dims V=5, D=3, N=6\nE: [V, D]\nW: [D]\ntok: int[N]\nY[n,d] = tanh(E[tok[n], d] * W[d]) + E[tok[n]+1, d]\nL = sum(n,d) Y[n,d]^2',
    { tok: TOK },
  ],
  [
    'two-dimensional tokens into a softmax over classes',
    'dims V=4, D=3, B=2, T=3\nE: [V, D]\nU: [D, V]\ntok: int[B, T]\nZ[b,t,c] = sum(d) E[tok[b,t], d]*U[d,c]\nL = sum(b,t) (logsumexp(c) Z[b,t,c] - Z[b,t,tok[b,t]])',
    { tok: [3, 1, 3, 0, 3, 1] },
  ],
  ['cross-entropy with integer labels', 'dims N=4, C=3\nX: [N, C]\ny: int[N]\nS[n,c] = X[n,c] - logsumexp(k) X[n,k]\nL = -sum(n) S[n, y[n]]', { y: [2, 0, 2, 1] }],
];

const given = (data: Record<string, number[]>) => Object.fromEntries(Object.entries(data).map(([n, v]) => [n, Float64Array.from(v)]));

describe('Hessian blocks through a scatter-add', () => {
  for (const [what, src, data] of PROGRAMS)
    it(`${what}: every block agrees with central differences of the gradient`, () => {
      const r = checkHessians(src, {}, { given: given(data), seed: 4 });
      expect(Object.keys(r.errors).length).toBeGreaterThan(0);
      for (const [k, e] of Object.entries(r.errors)) expect(e, `${k}\n${r.program}`).toBeLessThan(1e-6);
      expect(Math.min(...Object.values(r.magnitudes))).toBeGreaterThan(0.05);
    });

  it('a block with a += prints it, re-parses, and gives its gather form in LaTeX', () => {
    const r = derive(PROGRAMS[0]![1], { order: 2 });
    const h = r.hessians!['E,E']!;
    // one loop over n and d: the rows' (d == d3) is solved, not looped over
    expect(h.index).toBe('H_E_E[v,d,i,j] = 0\nH_E_E[tok[n],d,tok[n],d] += 2');
    expect(h.matrix).toBeNull();
    expect(h.latex).toContain('\\left[\\mathrm{tok}_{n} = v\\right]');
    const E = Float64Array.from({ length: 15 }, (_, i) => i);
    const H = evaluate(r.program, { E, tok: TOK }).H_E_E!;
    // the diagonal element of row v is 2·(how often v occurs): 2 three times, 0 twice, 3 once
    const diag = [0, 1, 2, 3, 4].map((v) => H[(v * 3 + 1) * 15 + v * 3 + 1]);
    expect(diag).toEqual([4, 0, 6, 2, 0]);
    expect(H.reduce((a, x) => a + x, 0)).toBe(2 * 6 * 3);
  });

  it('a read between a tensor and its += cannot be differentiated, and says so', () => {
    const src = 'dims V=3, N=4\nG: [N]\nK: [V]\ntok: int[N]\nH: [V]\nH[v] = 0\nP[v] = H[v]*K[v]\nH[tok[n]] += G[n]\nL = sum(v) H[v]*P[v]';
    expect(errorOf(() => derive(src)).message).toMatch(/P reads H before the \+= into it in line 8/);
  });
});

describe('compile(...).hvp through integer data', () => {
  for (const [what, src, data] of PROGRAMS)
    for (const wasm of ['never', 'always'] as const)
      it(`${what} (wasm ${wasm}): H·v is the central difference of backward along v`, () => {
        const k = compile(src, { wasm });
        const rand = seededRandom(8);
        const ints = Object.fromEntries(Object.entries(data).map(([n, v]) => [n, Int32Array.from(v)]));
        const real = k.inputs.filter((n) => !(n in data));
        const count = (n: string) => k.shapes[n]!.reduce((a, b) => a * b, 1);
        const x = Object.fromEntries(real.map((n) => [n, Float64Array.from({ length: count(n) }, () => 2 * rand() - 1)]));
        const v = Object.fromEntries(real.map((n) => [n, Float64Array.from({ length: count(n) }, () => 2 * rand() - 1)]));
        const hv = k.hvp!({ ...x, ...ints }, v);
        expect(Object.keys(hv).sort()).toEqual(real.map((n) => `d${n}`).sort());
        const h = 1e-5;
        const at = (s: number) => k.backward({ ...Object.fromEntries(real.map((n) => [n, x[n]!.map((e, i) => e + s * h * v[n]![i]!)])), ...ints });
        const [up, down] = [at(1), at(-1)];
        for (const n of real) {
          const numeric = up[`d${n}`]!.map((u, i) => (u - down[`d${n}`]![i]!) / (2 * h));
          const scale = Math.max(...numeric.map(Math.abs));
          expect(scale, n).toBeGreaterThan(0.05);
          hv[`d${n}`]!.forEach((g, i) => expect(Math.abs(g - numeric[i]!), `${n}[${i}]`).toBeLessThan(1e-6 * Math.max(1, scale)));
        }
      });

  it('an out-of-range token is the same clear error in hvp', () => {
    const k = compile(PROGRAMS[0]![1]);
    expect(() => k.hvp!({ E: new Float64Array(15), tok: Int32Array.from([2, 0, 2, 5, 0, 2]) }, {})).toThrow('tok[3] = 5 makes the subscript tok[n] of E 5, outside [0, 5)');
  });
  it('integer data takes no direction: a clear error naming it', () => {
    const k = compile(PROGRAMS[0]![1]);
    const tok = Int32Array.from([2, 0, 2, 1, 0, 2]);
    expect(() => k.hvp!({ E: new Float64Array(15), tok }, { tok: Float64Array.from(tok) })).toThrow(/tok is integer data \(declared int\): it takes no direction/);
  });
});
