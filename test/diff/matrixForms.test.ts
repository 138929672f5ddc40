// Matrix forms out (issue 16): factoring ((A + Aᵀ)·x), products summed inside an elementwise
// expression (2·(Aᵀ·(A·x − b))), Kronecker forms of matrix-variable Hessian blocks ((A + Aᵀ) ⊗ I), and
// a matrix-notation program's gradients written in `program` as matrix-notation statements that re-parse.
import katex from 'katex';
import { describe, expect, it } from 'vitest';
import { derive, evaluate } from '../../src/index.js';
import { randomInputs, relativeError, seededRandom } from '../../src/ir/gradcheck.js';
import { check } from '../../src/ir/check.js';
import { run } from '../../src/ir/evaluate.js';
import { DERIVED_LIMITS } from '../../src/ir/limits.js';
import { checkMatrixSources } from '../helpers.js';

const XAX = "dims N=3\nA: [N, N]\nx: [N]\nf = x'*A*x";

/** A ⊗ B of row-major matrices (ra×ca, rb×cb), row-major. */
function kron(a: ArrayLike<number>, ra: number, ca: number, b: ArrayLike<number>, rb: number, cb: number): Float64Array {
  const out = new Float64Array(ra * rb * ca * cb);
  for (let i = 0; i < ra; i++) for (let j = 0; j < ca; j++) for (let k = 0; k < rb; k++) for (let l = 0; l < cb; l++) out[(i * rb + k) * ca * cb + j * cb + l] = a[i * ca + j]! * b[k * cb + l]!;
  return out;
}
const eye = (n: number) => Float64Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) === k % n ? 1 : 0));

describe('gradients in matrix form', () => {
  const CASES: [string, string, Record<string, string>][] = [
    ["x'·A·x: a common right factor", XAX, { x: 'dx = (A + Aᵀ)·x', A: 'dA = x·xᵀ' }],
    ['least squares: a product inside a sum', 'dims N=3, M=4\nA: [N, M]\nx: [M]\nb: [N]\nf = norm2(A*x - b)^2', { x: 'dx = 2·(Aᵀ·(A·x − b))', b: 'db = -2·(A·x − b)' }],
    ['a sum as a factor of a product: ‖A·b‖²', 'dims N=3\nA: [N, N]\nb: [N]\nf = norm2(A*b)^2', { b: 'db = 2·(Aᵀ·(A·b))' }],
    ['a common left factor', "dims N=3, M=2\nA: [N, M]\nx: [N]\ny: [M]\nz: [M]\nf = x'*A*y + x'*A*z", { A: 'dA = x·(y + z)ᵀ' }],
    ['a matrix variable', "dims N=3, M=2\nA: [N, N]\nX: [N, M]\nf = tr(X'*A*X)", { X: 'dX = (A + Aᵀ)·X', A: 'dA = X·Xᵀ' }],
    ['a chain of products, an outer product with a summed side', "dims N=3, M=2\nA: [N, M]\nB: [M, N]\nv: [N]\nx: [N]\nf = x'*A*B*v", { A: 'dA = x·(B·v)ᵀ', B: 'dB = (Aᵀ·x)·vᵀ', v: 'dv = Bᵀ·Aᵀ·x', x: 'dx = A·B·v' }],
    ['like terms: P + P is 2·P', "dims N=3\nA: [N, N]\nX: [N, N]\nf = tr(A*X*A*X)", { A: 'dA = 2·(Xᵀ·Aᵀ·Xᵀ)', X: 'dX = 2·(Aᵀ·Xᵀ·Aᵀ)' }],
    ['inverses; two paths to a vector are an outer product', "dims N=3\nA: [N, N]\nx: [N]\nf = x'*inv(A)*x", { x: 'dx = (A⁻¹ + A⁻ᵀ)·x', A: 'dA = −A⁻ᵀ·x·xᵀ·A⁻ᵀ' }],
  ];
  for (const [what, src, want] of CASES)
    it(`${what}: the display, and the program's matrix-notation statements compute the index forms`, () => {
      const r = derive(src);
      for (const [x, m] of Object.entries(want)) expect(r.gradients[x]!.matrix).toBe(m);
      for (const g of Object.values(r.gradients)) expect(() => katex.renderToString(g.latex, { throwOnError: true })).not.toThrow();
      const p = check(src);
      const inputs = randomInputs(p, {}, seededRandom(5), -1, 1);
      if (/inv\(/.test(src)) inputs.A = Float64Array.from({ length: 9 }, (_, k) => (Math.floor(k / 3) === k % 3 ? 3 : 0) + inputs.A![k]!);
      const errors = checkMatrixSources(r.program, inputs);
      for (const x of Object.keys(want)) expect(Object.keys(errors)).toContain(`d${x}`);
      for (const [n, e] of Object.entries(errors)) expect(e, n).toBeLessThan(1e-12);
    });
  it("the program writes them after the index statement: # matrix notation: dx = (A + A')*x", () => {
    expect(derive(XAX).program).toContain("dx[n] = sum(j) A[n,j]*x[j] + sum(i) x[i]*A[i,n]\n# matrix notation: dx = (A + A')*x\n");
  });
  it('an index-notation program keeps its program as it was (no matrix-notation lines)', () => {
    expect(derive('dims N=2, M=3\nA: [N, M]\nx: [M]\nY[i] = A[i,j]*x[j]').program).not.toContain('# matrix notation');
  });
  it('a gradient that is one number for every element has no matrix statement (dA = 0 would be a scalar)', () => {
    const r = derive('dims N=2\nA: [N, N]\ns: []\nf = s + sum(tanh(ones(N)))');
    expect(r.gradients.A!.index).toBe('dA[i,j] = 0');
    expect(r.program).not.toContain('# matrix notation: dA');
  });
});

describe("chains, and sums spread along a row or a column", () => {
  // the forward's value is reused (reuseForward): softmax(X) is Y, and exp(Y) for log-softmax
  it('softmax: dX = Y ⊙ (dY − (Y ⊙ dY)·1·1ᵀ); log-softmax: dY − exp(Y) ⊙ (dY·1·1ᵀ)', () => {
    expect(derive('dims N=2, C=3\nX: [N, C]\nY[n,c] = exp(X[n,c] - logsumexp(k) X[n,k])').gradients.X!.matrix).toBe('dX = Y ⊙ (dY − (Y ⊙ dY)·1·1ᵀ)');
    expect(derive('dims N=2, C=3\nX: [N, C]\nY[n,c] = X[n,c] - logsumexp(k) X[n,k]').gradients.X!.matrix).toBe('dX = dY − exp(Y) ⊙ (dY·1·1ᵀ)');
  });
  it('a chain with a matrix in the middle: dR = Aᵀ·dY·Bᵀ', () => {
    expect(derive('dims N=2, M=3, K=4, L=2\nA: [N, M]\nR: [M, K]\nB: [K, L]\nY[i,l] = A[i,j]*R[j,k]*B[k,l]').gradients.R!.matrix).toBe('dR = Aᵀ·dY·Bᵀ');
  });
  it('a column normalisation: the sums of columns, spread down them, and ⊘ parenthesised inside a product', () => {
    expect(derive('dims N=2, C=3\nX: [N, C]\nY[n,c] = X[n,c] / sum(k) X[k,c]').gradients.X!.matrix).toBe('dX = dY ⊘ (1·1ᵀ·X) − (1·1ᵀ·(X ⊙ dY)) ⊘ (1·1ᵀ·X)²');
  });
  it('an elementwise quotient re-parses as ./ (the matrix-notation statement of the gradient)', () => {
    const src = "dims N=3\nx: [N]\ny: [N]\nf = sum(log(x .* x + 1) ./ (y .* y + 2))";
    const r = derive(src);
    expect(r.program).toMatch(/# matrix notation: dy = .*\.\//);
    const errors = checkMatrixSources(r.program, randomInputs(check(src), {}, seededRandom(9), -1, 1));
    expect(Object.keys(errors).sort()).toEqual(['dx', 'dy']);
    for (const [n, e] of Object.entries(errors)) expect(e, n).toBeLessThan(1e-12);
  });
});

describe('Hessian blocks of matrix variables: Kronecker forms', () => {
  it("tr(Xᵀ·A·X): H_X_X = (A + Aᵀ) ⊗ I, equal to the block's values", () => {
    const src = "dims N=3, M=2\nA: [N, N]\nX: [N, M]\nf = tr(X'*A*X)";
    const r = derive(src, { wrt: ['X'], order: 2 });
    const h = r.hessians!['X,X']!;
    expect(h.matrix).toBe('H_X_X = (A + Aᵀ) ⊗ I');
    expect(() => katex.renderToString(h.latex, { throwOnError: true })).not.toThrow();
    const inputs = randomInputs(check(src), {}, seededRandom(7), -1, 1);
    const H = evaluate(r.program, inputs)[h.name]!;
    const A = inputs.A!;
    const B = Float64Array.from(A, (v, k) => v + A[(k % 3) * 3 + Math.floor(k / 3)]!);
    expect(relativeError(H, kron(B, 3, 3, eye(2), 2, 2))).toBeLessThan(1e-15);
  });
  it('‖X·w‖²: H_X_X = I ⊗ (2·w·wᵀ), equal to the block’s values', () => {
    const src = 'dims N=3, M=2\nX: [N, M]\nw: [M]\nf = norm2(X*w)^2';
    const r = derive(src, { wrt: ['X'], order: 2 });
    const h = r.hessians!['X,X']!;
    expect(h.matrix).toBe('H_X_X = I ⊗ (2·(w·wᵀ))');
    const inputs = randomInputs(check(src), {}, seededRandom(8), -1, 1);
    const H = evaluate(r.program, inputs)[h.name]!;
    const w = inputs.w!;
    const W = Float64Array.from({ length: 4 }, (_, k) => 2 * w[Math.floor(k / 2)]! * w[k % 2]!);
    expect(relativeError(H, kron(eye(3), 3, 3, W, 2, 2))).toBeLessThan(1e-15);
  });
});

describe('cosine similarity: the textbook form, per row for a batch', () => {
  const src = 'dims N=3, D=4\nX: [N, D]\nY: [N, D]\nS[n] = sum(d) X[n,d]*Y[n,d] / (sqrt(sum(e) X[n,e]*X[n,e]) * sqrt(sum(e) Y[n,e]*Y[n,e]))';
  // the whole-matrix form spread each row's norm along the row five times, sqrt((X ⊙ X)·1·1ᵀ): per row
  // it is the vector form, ‖·‖ for sqrt(xᵀ·x), with the norms' powers collected (‖X[n]‖·(‖X[n]‖·‖Y[n]‖)² → ‖X[n]‖³·‖Y[n]‖²)
  const want = 'dX[n] = (dS[n]/(‖X[n]‖·‖Y[n]‖))·Y[n] − (dS[n]·(X[n]ᵀ·Y[n])/(‖X[n]‖³·‖Y[n]‖))·X[n]';
  it(`${want}, built by hand from the display, equals the index form`, () => {
    const r = derive(src);
    expect(r.gradients.X!.matrix).toBe(want);
    expect(() => katex.renderToString(r.gradients.X!.latex, { throwOnError: true })).not.toThrow();
    const p = check(r.program, DERIVED_LIMITS);
    const inputs = randomInputs(p, {}, seededRandom(13), -1, 1);
    const out = run(p, inputs);
    const [N, D] = [3, 4];
    const { X, Y, dS } = inputs as Record<string, Float64Array>;
    const dot = (a: Float64Array, b: Float64Array, n: number) => Array.from({ length: D }, (_, d) => a[n * D + d]! * b[n * D + d]!).reduce((x, y) => x + y, 0);
    const byHand = Float64Array.from({ length: N * D }, (_, k) => {
      const [n, d] = [Math.floor(k / D), k % D];
      const [nX, nY, g] = [Math.sqrt(dot(X!, X!, n)), Math.sqrt(dot(Y!, Y!, n)), dS![n]!];
      return (g / (nX * nY)) * Y![k]! - ((g * dot(X!, Y!, n)) / (nX ** 3 * nY)) * X![k]!;
    });
    expect(out.dX!.some((v) => v !== 0)).toBe(true);
    expect(relativeError(byHand, out.dX!)).toBeLessThan(1e-13);
  });
  it("of two vectors: dx = y/(‖x‖·‖y‖) − ((xᵀ·y)/(‖x‖³·‖y‖))·x, whose matrix-notation statement re-parses (norm2)", () => {
    const vec = "dims D=4\nx: [D]\ny: [D]\ns = x'*y / (norm2(x)*norm2(y))";
    const r = derive(vec);
    expect(r.gradients.x!.matrix).toBe('dx = y/(‖x‖·‖y‖) − ((xᵀ·y)/(‖x‖³·‖y‖))·x');
    expect(r.program).toContain("# matrix notation: dx = y/(norm2(x)*norm2(y)) - ((x'*y)/(norm2(x).^3*norm2(y)))*x");
    const errors = checkMatrixSources(r.program, randomInputs(check(vec), {}, seededRandom(14), -1, 1));
    expect(Object.keys(errors).sort()).toEqual(['dx', 'dy']);
    for (const [n, e] of Object.entries(errors)) expect(e, n).toBeLessThan(1e-12);
  });
});

describe('a batch of matrix products per head: attention', () => {
  it('dQ[h] = dS[h]·K[h]/sqrt(E), dV[h] = A[h]ᵀ·dO[h] (none before; evaluated per slice in matrixSources.test.ts)', () => {
    const r = derive('dims H=2, T=3, E=2\nQ: [H, T, E]\nK: [H, T, E]\nV: [H, T, E]\nS[h,i,j] = Q[h,i,e]*K[h,j,e] / sqrt(E)\nA[h,i,j] = exp(S[h,i,j] - logsumexp(j2) S[h,i,j2])\nO[h,i,e] = A[h,i,j]*V[h,j,e]');
    expect(r.gradients.Q!.matrix).toBe('dQ[h] = dS[h]·K[h]/sqrt(E)');
    expect(r.gradients.V!.matrix).toBe('dV[h] = A[h]ᵀ·dO[h]');
    expect(r.gradients.Q!.latex).toContain('\\mathrm{d}S_{h}');
    expect(() => katex.renderToString(r.gradients.Q!.latex, { throwOnError: true })).not.toThrow();
    // a slice does not re-parse as matrix notation: no '# matrix notation' line for it
    expect(derive('dims H=2, T=3\nQ: [H, T, T]\nK: [H, T, T]\nO[h,i,j] = Q[h,i,e]*K[h,e,j]', { matrixNotation: true }).program).not.toContain('# matrix notation: dQ');
  });
});

describe('a count: Σ_{i,j} 1 is N·M (it read 1ᵀ·()·1)', () => {
  it('ds = N·M', () => {
    const r = derive('dims N=3, M=2\nA: [N, M]\ns: []\nf = s*sum(i:N,j:M) 1 + sum(i,j) A[i,j]^2', { matrixNotation: true });
    expect(r.gradients.s!.matrix).toBe('ds = N·M');
    expect(r.program).toContain('# matrix notation: ds = N*M');
  });
});
