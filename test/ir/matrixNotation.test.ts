// Matrix notation (LANGUAGE.md v2): whole scalars, vectors and matrices, `'`, `*` as the matrix
// product, `.*` `./` `.^`, elementwise functions, tr det logdet inv diag sum norm1 norm2 eye ones —
// expanded to index notation, evaluated, differentiated (checked by central differences) and compiled
// (checked against the interpreter), with located errors for shapes that do not fit.
import { describe, expect, it } from 'vitest';
import { check, compile, derive, evaluate } from '../../src/index.js';
import { printStatement } from '../../src/ir/print.js';
import { printSize } from '../../src/ir/sizes.js';
import { seededRandom } from '../../src/ir/gradcheck.js';
import { checkGradients, errorOf } from '../helpers.js';

const statements = (src: string) => check(src).statements.map(printStatement);

/** A random n×n matrix n·I + noise: well conditioned. */
function wellConditioned(n: number, seed: number): Float64Array {
  const rand = seededRandom(seed);
  return Float64Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) === k % n ? n : 0) + 2 * rand() - 1);
}

const V2 = `dims N=3, M=4
A: [N, N]
X: [N, M]
x: [N]
y: [N]
f = x'*A*x + tr(X'*A*X)
g = norm2(A*x - y)^2 + sum(log(1 + exp(-y .* (A*x))))
H = inv(A) * X`;

describe('matrix notation expands to index notation', () => {
  it("x'*A*x, tr, norm2, elementwise functions and inv", () => {
    expect(statements(V2)).toEqual([
      'f = sum(i,j) x[i]*A[i,j]*x[j] + sum(k,l,m) X[k,l]*A[k,m]*X[m,l]',
      // norm2(u)^2 is Σ u², without the square root
      'g = sum(i) (sum(j) A[i,j]*x[j] - y[i])^2 + sum(k) log(1 + exp(-y[k]*(sum(l) A[k,l]*x[l])))',
      'H[i,j] = sum(k) inv(A)[i,k]*X[k,j]',
    ]);
    expect(check(V2).tensors.find((t) => t.name === 'H')!.shape.map(printSize)).toEqual(['N', 'M']);
  });
  it('diag, eye, ones, sum, norm1, outer products, transposes, det and logdet', () => {
    expect(statements("dims N=3\nx: [N]\nA: [N, N]\nD = diag(x) + eye(N)\nd = diag(A')\no = ones(N)'*x\nZ = x*x'\nn = norm1(Z) + sum(A)\nl = logdet(A) - det(A')\nE = ones(N, 2)")).toEqual([
      'D[i,j] = x[i]*(i == j) + (i == j)',
      'd[i] = A[i,i]',
      'o = sum(i) x[i]',
      'Z[i,j] = x[i]*x[j]',
      'n = sum(i,j) abs(Z[i,j]) + sum(k,l) A[k,l]',
      'l = logdet(A) - (det(k:N, m:N) A[m,k])',
      'E[i,j] = 1',
    ]);
  });
  it('mixes with index statements both ways, and keeps a scalar statement as it was', () => {
    const src = "dims N=3\nA: [N, N]\nx: [N]\nv = A*x\nw[i] = v[i]*2\nf = w'*w\ng = (a+b)*c";
    expect(statements(src)).toEqual(['v[i] = sum(j) A[i,j]*x[j]', 'w[i] = 2*v[i]', 'f = sum(i) w[i]*w[i]', 'g = (a + b)*c']);
    const A = wellConditioned(3, 1);
    const x = Float64Array.of(1, -2, 0.5);
    const out = evaluate(src, { A, x, a: 1, b: 2, c: 3 });
    const v = [0, 1, 2].map((i) => [0, 1, 2].reduce((s, j) => s + A[i * 3 + j]! * x[j]!, 0));
    expect(out.f![0]).toBeCloseTo(v.reduce((s, t) => s + 4 * t * t, 0), 12);
  });
});

describe('values', () => {
  it("f = x'*A*x and the LANGUAGE.md example evaluate to the hand-computed numbers", () => {
    const A = Float64Array.of(1, 2, 0, -1, 3, 1, 0.5, 0, 2);
    const x = Float64Array.of(1, -2, 0.5);
    let ref = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) ref += x[i]! * A[i * 3 + j]! * x[j]!;
    expect(evaluate("dims N=3\nA: [N, N]\nx: [N]\nf = x'*A*x", { A, x }).f![0]).toBeCloseTo(ref, 12);
  });
  it('inv, det and logdet agree with the definitions (A·A⁻¹ = I, det of a triangular matrix)', () => {
    const A = wellConditioned(4, 7);
    const out = evaluate('dims N=4\nA: [N, N]\nB = inv(A)\nP = A*inv(A)\nd = det(A)\nl = logdet(A)', { A });
    out.P!.forEach((v, k) => expect(v).toBeCloseTo(Math.floor(k / 4) === k % 4 ? 1 : 0, 12));
    expect(out.l![0]).toBeCloseTo(Math.log(Math.abs(out.d![0]!)), 12);
    const T = Float64Array.of(2, 5, 7, 0, -3, 1, 0, 0, 0.5);
    expect(evaluate('dims N=3\nA: [N, N]\nd = det(A)', { A: T }).d![0]).toBeCloseTo(-3, 12);
  });
  it('a singular matrix: det is 0, inv and logdet are a clear error (interpreter and kernels alike)', () => {
    const S = Float64Array.of(1, 2, 3, 2, 4, 6, 0, 1, 1);
    expect(evaluate('dims N=3\nA: [N, N]\nd = det(A)', { A: S }).d![0]).toBe(0);
    for (const f of ['B = inv(A)', 'l = logdet(A)']) {
      const src = `dims N=3\nA: [N, N]\n${f}`;
      expect(() => evaluate(src, { A: S })).toThrow(/(inv|logdet)\(A\): the matrix is singular/);
      expect(() => compile(src).forward({ A: S })).toThrow(/(inv|logdet)\(A\): the matrix is singular/);
    }
  });
});

describe('gradients agree with central differences', () => {
  it('the LANGUAGE.md example (x, A, X, y)', () => {
    const r = checkGradients(V2, {}, { given: { A: wellConditioned(3, 3) } });
    for (const [n, e] of Object.entries(r.errors)) expect(e, n).toBeLessThan(1e-6);
    for (const [n, m] of Object.entries(r.magnitudes)) expect(m, n).toBeGreaterThan(0.1);
  });
  it('inv, det and logdet on random well-conditioned matrices', () => {
    for (const seed of [1, 2, 3]) {
      const r = checkGradients('dims N=4\nA: [N, N]\nB: [N, 2]\nf = logdet(A) + det(A)/10\nH = inv(A)*B', {}, { seed, given: { A: wellConditioned(4, seed) } });
      expect(r.errors.A).toBeLessThan(1e-6);
      expect(r.errors.B).toBeLessThan(1e-6);
      expect(r.magnitudes.A).toBeGreaterThan(0.01);
    }
  });
  it('logdet of a matrix expression, inv of a transpose, diag, eye and norm1', () => {
    const src = "dims N=3\nA: [N, N]\nB: [N, N]\nx: [N]\nf = logdet(A*B' + B*A' + 10*eye(N)) + x'*inv(A')*x + norm1(diag(x)) + sum(diag(A))";
    const r = checkGradients(src, {}, { given: { A: wellConditioned(3, 5) } });
    for (const [n, e] of Object.entries(r.errors)) expect(e, n).toBeLessThan(1e-6);
  });
  it("dx of x'*A*x is A·x + Aᵀ·x, dA is x·xᵀ", () => {
    const g = derive("dims N=3\nA: [N, N]\nx: [N]\nf = x'*A*x").gradients;
    expect(g.x!.index).toBe('dx[n] = sum(j) A[n,j]*x[j] + sum(i) x[i]*A[i,n]');
    expect(g.A!.index).toBe('dA[i,j] = x[i]*x[j]');
  });
  it('the gradient of logdet is the inverse transposed', () => {
    expect(derive('dims N=3\nA: [N, N]\nf = logdet(A)').gradients.A!.index).toBe('dA[i,j] = inv(A)[j,i]');
  });
});

describe('kernels', () => {
  it('forward and backward agree with the interpreter (float64 to the bit for inv, det, logdet; float32 closely)', () => {
    const src = `${V2}\nd = logdet(A) + det(A)`;
    const A = wellConditioned(3, 11);
    const rand = seededRandom(4);
    const X = Float64Array.from({ length: 12 }, () => rand() - 0.5);
    const x = Float64Array.of(1, -2, 0.5);
    const y = Float64Array.of(0.3, 0.1, -1);
    const dH = Float64Array.from({ length: 12 }, () => rand() - 0.5);
    const ref = evaluate(derive(src).program, { A, X, x, y, dH });
    const k64 = compile(src);
    const fw = k64.forward({ A, X, x, y });
    expect([...fw.H!]).toEqual([...ref.H!]);
    expect([...fw.d!]).toEqual([...ref.d!]);
    const bw = k64.backward({ A, X, x, y }, { dH });
    for (const n of ['dA', 'dX', 'dx', 'dy']) bw[n]!.forEach((v, i) => expect(v).toBeCloseTo(ref[n]![i]!, 10));
    const k32 = compile(src, { dtype: 'float32' });
    const f32 = (a: Float64Array) => Float32Array.from(a);
    const b32 = k32.backward({ A: f32(A), X: f32(X), x: f32(x), y: f32(y) }, { dH: f32(dH) });
    for (const n of ['dA', 'dX', 'dx', 'dy']) b32[n]!.forEach((v, i) => expect(Math.abs(v - ref[n]![i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref[n]![i]!))));
  });
  it('a batch of matrices: logdet per batch element (the factorisation inside the loop)', () => {
    const src = 'dims B=2, N=3\nX: [B, N, N]\nL[b] = logdet(p:N, q:N) X[b,p,q]';
    const X = Float64Array.from([...wellConditioned(3, 1), ...wellConditioned(3, 2)]);
    const ref = evaluate(src, { X }).L!;
    expect(ref[0]).toBeCloseTo(evaluate('dims N=3\nA: [N, N]\nl = logdet(A)', { A: wellConditioned(3, 1) }).l![0]!, 12);
    expect([...compile(src).forward({ X }).L!]).toEqual([...ref]);
    expect(checkGradients(src, {}, { given: { X } }).errors.X).toBeLessThan(1e-6);
  });
});

describe('located errors', () => {
  const cases: [string, RegExp, number, number][] = [
    ['dims N=3, M=4, K=5\nA: [N, M]\nx: [K]\nf = A*x', /`\*` is a matrix product, and \[N, M\] \(a matrix\) times \[K\] \(a column vector\) do not fit/, 4, 6],
    ['dims N=3, M=4\nA: [N, M]\nx: [N]\nf = A + x', /`\+` needs operands of one shape \(or a scalar\), found \[N, M\] \(a matrix\) and \[N\] \(a column vector\)/, 4, 7],
    ['dims N=3, M=4\nA: [N, M]\nf = det(A)', /det needs a square matrix, found \[N, M\]/, 3, 5],
    ['dims N=3, M=4\nA: [N, M]\nf = A^2', /`\^` is an operator of scalars/, 3, 6],
    ['dims N=3\nx: [N]\nf = x / x', /`\/` divides by a scalar/, 3, 7],
    ["dims N=3\nx: [N]\nY[i] = x'", /`'` transposes a whole vector or matrix/, 3, 9],
    ['dims N=3\nx: [N]\nY[i] = x[i] + tr(x)', /tr\(…\) is matrix notation/, 3, 15],
    ['dims N=3\nx: [N]\nf: []\nf = x', /f is declared \[\] but its right side is \[N\] \(a column vector\)/, 4, 1],
    ['X: [2,3,4]\nf = sum(X)', /X has 3 dimensions: matrix notation takes scalars, vectors and matrices/, 2, 9],
    ['dims N=3, M=2\nA: [N, M]\nY[i] = inv(A)[i,i]', /inv needs a square matrix, found N×M/, 3, 8],
    ['dims N=3\nA: [N, N]\nY[i] = det(A)[i]', /det\(A\) is a number, not a matrix/, 3, 8],
  ];
  for (const [src, message, line, col] of cases)
    it(message.source.slice(0, 50), () => {
      const e = errorOf(() => check(src));
      expect(e.message).toMatch(message);
      expect([e.span?.line, e.span?.col]).toEqual([line, col]);
    });
});
