// Grouped convolution on the GEMM path (issue 15): the forward, dX and dK run one im2col GEMM per
// group — the group g is a batch index both operands read, X[n, g*CG+c, …] and K[g, …] — and dX's
// channel p, read as p/CG and p%CG, is split into its group and channel (splitMergedIndex.ts). Each
// kernel is checked against the interpreter at odd sizes, strides 2 and 3 and paddings 0–2, and the
// gradients against central differences; the affine-left-side form (Y[n, g*FG+f, u, v]) solves its
// channel equality for the output channel, so dX sums over one group's FG channels, not all G·FG.
import { describe, expect, it } from 'vitest';
import { check, compile, derive, emit, evaluate } from '../../src/index.js';
import { randomInputs, relativeError, seededRandom } from '../../src/ir/gradcheck.js';
import { checkGradients } from '../helpers.js';

const STRIDED = `dims N, G, CG, FG, H, W, R=3, S=3, P=1, T=2
X: [N, G*CG, H, W]
K: [G, FG, CG, R, S]
Y: [N, G, FG, (H+2*P-R)/T+1, (W+2*P-S)/T+1]
Y[n,g,f,u,v] = K[g,f,c,i,j] * X[n, g*CG+c, u*T+i-P, v*T+j-P]`;

const AFFINE = `dims N, G, CG, FG, H, W, R=3, S=2, P=1, T=1
X: [N, G*CG, H, W]
K: [G, FG, CG, R, S]
Y: [N, G*FG, (H+2*P-R)/T+1, (W+2*P-S)/T+1]
Y[n, g*FG+f, u, v] = K[g,f,c,i,j] * X[n, g*CG+c, u*T+i-P, v*T+j-P]`;

/** backward() of the compiled kernels against the interpreter running the derived program */
function kernelsAgree(source: string, sizes: Record<string, number>, dtype: 'float64' | 'float32') {
  const p = check(source);
  const inputs = randomInputs(p, sizes, seededRandom(7), -1, 1);
  const k = compile(source, { sizes, dtype });
  const dY = Float64Array.from({ length: k.shapes.Y!.reduce((a, b) => a * b, 1) }, (_, q) => Math.sin(q + 1));
  const ref = evaluate(derive(source).program, { ...inputs, dY }, { sizes });
  const cast = (x: Float64Array) => (dtype === 'float32' ? Float32Array.from(x) : x);
  const got = k.backward(Object.fromEntries(Object.entries(inputs).map(([n, x]) => [n, cast(x)])), { dY: cast(dY) });
  const fwd = k.forward(Object.fromEntries(Object.entries(inputs).map(([n, x]) => [n, cast(x)])));
  const tol = dtype === 'float32' ? 1e-5 : 1e-12;
  expect(relativeError(Float64Array.from(fwd.Y!), ref.Y!), 'Y').toBeLessThan(tol);
  for (const g of ['dX', 'dK']) expect(relativeError(Float64Array.from(got[g]!), ref[g]!), g).toBeLessThan(tol);
}

describe('grouped convolution runs a GEMM per group', () => {
  it('forward, dX and dK each take the im2col GEMM, for each g', () => {
    const text = emit(STRIDED, { dtype: 'float32' });
    const gemms = text.match(/matmul over an implicit im2col: for each \w+,/g) ?? [];
    expect(gemms.length).toBe(3);
    expect(text).toMatch(/for each g, rows cg, columns n,h,w, contraction over f,u,v; one per residue class/);
  });

  for (const [T, P] of [[1, 1], [2, 0], [2, 1], [3, 2]] as const)
    for (const dtype of ['float64', 'float32'] as const)
      it(`stride ${T}, padding ${P}, odd sizes (${dtype}): the kernels compute what the interpreter does`, () => {
        kernelsAgree(STRIDED, { N: 3, G: 3, CG: 3, FG: 5, H: 7, W: 9, T, P }, dtype);
      });

  for (const [T, P] of [[2, 1], [3, 0]] as const)
    it(`stride ${T}, padding ${P}: the gradients agree with central differences`, () => {
      const r = checkGradients(STRIDED, { N: 1, G: 2, CG: 3, FG: 1, H: 5, W: 7, T, P });
      for (const [n, e] of Object.entries(r.errors)) expect(e, `d${n}`).toBeLessThan(1e-6);
      for (const [n, m] of Object.entries(r.magnitudes)) expect(m, `d${n}`).toBeGreaterThan(0);
    });
});

describe('the affine-left-side form Y[n, g*FG+f, u, v]', () => {
  it("dX solves the channel equality for the output channel: a sum over one group's FG channels", () => {
    const dX = derive(AFFINE).gradients.X!.index;
    expect(dX).toBe('dX[n,p1,h,w] = sum(u,v,f) K[p1/CG,f,p1%CG,h+P-u*T,w+P-v*T]*dY[n,(p1/CG)*FG+f,u,v]');
    expect(emit(AFFINE, { dtype: 'float32' })).toMatch(/for each g, rows cg, columns n,h,w, contraction over u,v,f/);
  });

  for (const T of [1, 2])
    it(`stride ${T}, odd sizes: kernels against the interpreter, gradients against central differences`, () => {
      const sizes = { N: 3, G: 2, CG: 3, FG: 3, H: 7, W: 5, T };
      kernelsAgree(AFFINE, sizes, 'float64');
      kernelsAgree(AFFINE, sizes, 'float32');
      const r = checkGradients(AFFINE, { N: 1, G: 2, CG: 2, FG: 3, H: 5, W: 4, T });
      for (const [n, e] of Object.entries(r.errors)) expect(e, `d${n}`).toBeLessThan(1e-6);
      for (const [n, m] of Object.entries(r.magnitudes)) expect(m, `d${n}`).toBeGreaterThan(0);
    });
});
