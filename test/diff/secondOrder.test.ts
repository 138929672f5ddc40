// Second order (LANGUAGE.md v2): derive(src, { order: 2 }) gives every Hessian block of a scalar
// output — checked against central differences of the derived gradient — and compile(...).hvp gives
// H·v without forming H, checked against the blocks.
import { describe, expect, it } from 'vitest';
import { check, compile, derive, evaluate } from '../../src/index.js';
import { seededRandom } from '../../src/ir/gradcheck.js';
import { main } from '../../src/cli.js';
import { checkHessians, errorOf } from '../helpers.js';

const XAX = "dims N=3\nA: [N, N]\nx: [N]\nf = x'*A*x";

function wellConditioned(n: number, seed: number): Float64Array {
  const rand = seededRandom(seed);
  return Float64Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) === k % n ? n : 0) + 2 * rand() - 1);
}

describe('Hessian blocks', () => {
  it("f = x'*A*x: dx = (A + Aᵀ)·x and the block x,x is A + Aᵀ, assigned in program", () => {
    const r = derive(XAX, { wrt: ['x'], order: 2 });
    expect(Object.keys(r.hessians!)).toEqual(['x,x']);
    const h = r.hessians!['x,x']!;
    expect(h).toMatchObject({ name: 'H_x_x', index: 'H_x_x[n,i] = A[n,i] + A[i,n]', matrix: 'H_x_x = A + Aᵀ' });
    expect(h.latex).toContain('A^{\\top}');
    const A = Float64Array.of(1, 2, 0, -1, 3, 1, 0.5, 0, 2);
    const out = evaluate(r.program, { A, x: Float64Array.of(1, -2, 0.5) });
    expect([...out.H_x_x!]).toEqual([...A].map((v, k) => v + A[(k % 3) * 3 + Math.floor(k / 3)]!));
  });
  it('blocks for every pair x before y in wrt order, with both inputs ordered as given', () => {
    expect(Object.keys(derive(XAX, { order: 2 }).hessians!)).toEqual(['A,A', 'A,x', 'x,x']);
    expect(Object.keys(derive(XAX, { wrt: ['x', 'A'], order: 2 }).hessians!)).toEqual(['x,x', 'x,A', 'A,A']);
  });
  const PROGRAMS: [string, string, Record<string, Float64Array>?][] = [
    ['quadratic form', XAX],
    ['a matrix variable: tr(Xᵀ·A·X)', "dims N=3, M=2\nA: [N, N]\nX: [N, M]\nf = tr(X'*A*X)"],
    ['least squares', "dims N=3\nA: [N, N]\nx: [N]\nb: [N]\nf = norm2(A*x - b)^2"],
    ['scalar functions: sin, tanh, sigmoid, exp, a power', 'f = sin(x*y) + x^3 + tanh(x)*sigmoid(y) + exp(x*y)'],
    ['logdet', 'dims N=3\nA: [N, N]\nf = logdet(A)', { A: wellConditioned(3, 1) }],
    ["x'·A⁻¹·x", "dims N=3\nA: [N, N]\nx: [N]\nf = x'*inv(A)*x", { A: wellConditioned(3, 2) }],
    ['softmax cross-entropy', 'dims N=2, C=3\nS: [N, C]\nT: [N, C]\nL = sum(n) -T[n,c]*(S[n,c] - logsumexp(k) S[n,k])'],
    ['a two-layer tanh network with an intermediate', 'dims N=2, D=3, H=2\nX: [N, D]\nW: [H, D]\nv: [H]\nZ[n,h] = tanh(X[n,d]*W[h,d])\nL = sum(n) (Z[n,h]*v[h])^2'],
    ['logistic regression with a named constant', 'const lam = 0.1\ndims N=3, D=2\nX: [N, D]\ny: [N]\nw: [D]\nL = sum(n) log(1 + exp(-y[n]*X[n,d]*w[d])) + lam*w[d]*w[d]'],
  ];
  for (const [what, src, given] of PROGRAMS)
    it(`${what}: every block agrees with central differences of the gradient`, () => {
      const r = checkHessians(src, {}, { ...(given ? { given } : {}) });
      expect(Object.keys(r.errors).length).toBeGreaterThan(0);
      for (const [k, e] of Object.entries(r.errors)) expect(e, `${k}\n${r.program}`).toBeLessThan(1e-6);
      expect(Math.max(...Object.values(r.magnitudes))).toBeGreaterThan(0.05);
    });
  it('needs one scalar output', () => {
    const e = errorOf(() => derive('Y[i] = 2*X[i]', { order: 2 }));
    expect(e.message).toMatch(/second order needs one scalar output \(a loss\), but the program's outputs are Y \(1 dimension\)/);
  });
  it("the blocks' tensors take no name of the program (H_x_x is taken: H_x_x2)", () => {
    const r = derive('H_x_x = 3\nf = x*x*H_x_x', { wrt: ['x'], order: 2 });
    expect(r.hessians!['x,x']!.name).toBe('H_x_x2');
    expect(evaluate(r.program, { x: 2 }).H_x_x2![0]).toBe(6);
  });
});

describe('compile(...).hvp', () => {
  const blocksTimes = (src: string, inputs: Record<string, Float64Array>, v: Record<string, Float64Array>) => {
    const r = derive(src, { order: 2 });
    const out = evaluate(r.program, inputs);
    const p = check(src);
    const names = p.tensors.filter((t) => t.role === 'input').map((t) => t.name);
    const result: Record<string, Float64Array> = {};
    for (const x of names) {
      const hx = new Float64Array(inputs[x]!.length);
      for (const y of names) {
        const key = r.hessians![`${x},${y}`] ? `${x},${y}` : `${y},${x}`;
        const H = out[r.hessians![key]!.name]!;
        const [nx, ny] = [inputs[x]!.length, inputs[y]!.length];
        const vy = v[y] ?? new Float64Array(ny);
        for (let a = 0; a < nx; a++) for (let b = 0; b < ny; b++) hx[a] = hx[a]! + (key === `${x},${y}` ? H[a * ny + b]! : H[b * nx + a]!) * vy[b]!;
      }
      result[`d${x}`] = hx;
    }
    return result;
  };
  it('is H·v for every input (a direction left out is 0), in float64 and float32', () => {
    const src = "dims N=3, M=2\nA: [N, N]\nX: [N, M]\nx: [N]\nf = tr(X'*A*X) + x'*A*x + sum(exp(x)) + logdet(A)";
    const rand = seededRandom(9);
    const vec = (n: number) => Float64Array.from({ length: n }, () => 2 * rand() - 1);
    const inputs = { A: wellConditioned(3, 4), X: vec(6), x: vec(3) };
    const v = { A: vec(9), x: vec(3) };
    const ref = blocksTimes(src, inputs, v);
    const k = compile(src);
    const got = k.hvp!(inputs, v);
    expect(Object.keys(got)).toEqual(['dA', 'dX', 'dx']);
    for (const n of Object.keys(ref)) got[n]!.forEach((g, i) => expect(g).toBeCloseTo(ref[n]![i]!, 9));
    const k32 = compile(src, { dtype: 'float32' });
    const f32 = (a: Float64Array) => Float32Array.from(a);
    const g32 = k32.hvp!({ A: f32(inputs.A), X: f32(inputs.X), x: f32(inputs.x) }, { A: f32(v.A), x: f32(v.x) });
    for (const n of Object.keys(ref)) g32[n]!.forEach((g, i) => expect(Math.abs(g - ref[n]![i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(ref[n]![i]!))));
  });
  it('exists only for one scalar output, and names a wrong direction', () => {
    expect(compile('dims N=3\nY: [N]\nY[i] = 2*X[i]').hvp).toBeUndefined();
    const k = compile(XAX);
    expect(() => k.hvp!({ A: new Float64Array(9), x: new Float64Array(3) }, { y: new Float64Array(3) })).toThrow(/y is not an input of the program \(inputs: A, x\)/);
  });
});

describe('derive --order 2', () => {
  const cli = async (args: string[]) => {
    let out = '';
    let err = '';
    const code = await main(args, { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n') });
    return { code, out, err };
  };
  it("prints dx = (A + Aᵀ)·x and the Hessian A + Aᵀ", async () => {
    const r = await cli(['-e', XAX, '--order', '2']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('dx[n] = sum(j) A[n,j]*x[j] + sum(i) x[i]*A[i,n]\n  matrix: dx = (A + Aᵀ)·x\n');
    expect(r.out).toContain('# Hessian block x,x: H_x_x\nH_x_x[n,i] = A[n,i] + A[i,n]\n  matrix: H_x_x = A + Aᵀ');
    const j = JSON.parse((await cli(['-e', XAX, '--wrt', 'x', '--order', '2', '--format', 'json'])).out);
    expect(j.hessians['x,x'].matrix).toBe('H_x_x = A + Aᵀ');
    expect((await cli(['-e', 'f = x*y', '--order', '2', '--at', 'x=2,y=3'])).out).toBe('f = 6\ndx = 3\ndy = 2\nH_x_x = 0\nH_x_y = 1\nH_y_y = 0\n');
  });
  it('refuses other orders, and --order with --emit ts', async () => {
    expect(await cli(['-e', XAX, '--order', '3'])).toMatchObject({ code: 2, err: 'derive: --order takes 1 or 2, not "3"\n' });
    expect((await cli(['-e', XAX, '--order', '2', '--emit', 'ts'])).code).toBe(2);
  });
});
