// The convolution family's gradients as one correlation form, O[c…] = Σ_f A[…] ⋆[t, d, p] flip(B[…])
// (src/diff/renderCorrelation.ts). Each display is parsed back, evaluated by hand by its documented
// meaning, (A ⋆[t, d, p] B)[o] = Σ_k A[t·o + d·k − p]·B[k] (0 out of range), and compared with the
// index form's values.
import katex from 'katex';
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/index.js';
import { check } from '../../src/ir/check.js';
import { resolveSizes, run, shapeOf } from '../../src/ir/evaluate.js';
import { randomInputs, relativeError, seededRandom } from '../../src/ir/gradcheck.js';
import { DERIVED_LIMITS } from '../../src/ir/limits.js';
import { layer } from '../helpers.js';

const FORM = /^(\w+)\[([\w,]*)\] = (−?)(?:Σ_(?:\{([\w,]+)\}|(\w+)) )?(\w+)\[([\w,*+\-/%()]*)\] ⋆(?:\[([^\]]*)\])? (flip\()?(\w+)\[([\w,*+\-/%()]*)\]\)?$/;

/** The values a correlation display means, computed from its text alone. */
function evaluateDisplay(display: string, data: Record<string, Float64Array>, shape: (t: string) => number[], sizes: ReadonlyMap<string, number>): Float64Array {
  const m = FORM.exec(display);
  if (!m) throw new Error(`not a correlation form: ${display}`);
  const [, L, lh, neg, sumsBraced, sumOne, S, sh, opts, flip, K, kh] = m as unknown as string[];
  const heads = (s: string | undefined) => (s ? s.split(',') : []);
  const [lhs, sig, ker] = [heads(lh), heads(sh), heads(kh)];
  const sums = heads(sumsBraced ?? sumOne);
  const outShape = shape(L!);
  const n = outShape.length - lhs.length;
  const value = (x: string) => Function(...sizes.keys(), `return ${x}`)(...sizes.values()) as number;
  // a slice subscript is an index expression (g*Cg+c, p1/Cg, p1%Cg): / is the floor of the quotient
  const index = (x: string, env: ReadonlyMap<string, number>) =>
    Function(...sizes.keys(), ...env.keys(), `return ${x.replace(/(\w+)\/(\w+)/g, 'Math.floor($1/$2)')}`)(...sizes.values(), ...env.values()) as number;
  const param = (name: string, dflt: number): number[] => {
    const hit = new RegExp(`${name}=(\\([^)]*\\)|[^,\\]]+)`).exec(opts ?? '');
    if (!hit) return Array(n).fill(dflt);
    const parts = hit[1]!.startsWith('(') ? hit[1]!.slice(1, -1).split(', ') : Array(n).fill(hit[1]!);
    return parts.map(value);
  };
  const [t, d, p] = [param('t', 1), param('d', 1), param('p', 0)];
  const range = (v: string) => {
    for (const [T, hs] of [[S!, sig], [K!, ker]] as const) if (hs.includes(v)) return shape(T)[hs.indexOf(v)]!;
    throw new Error(`no range for ${v}`);
  };
  // a slice outside its tensor (a grouped kernel's channel of another group) is 0
  const inside = (hs: number[], dims: number[]) => hs.every((h, i) => h >= 0 && h < dims[i]!);
  const [sShape, kShape] = [shape(S!), shape(K!)];
  const at = (dims: number[], idx: number[]) => idx.reduce((acc, x, i) => acc * dims[i]! + x, 0);
  const out = new Float64Array(outShape.reduce((a, b) => a * b, 1));
  const each = (dims: number[], f: (idx: number[]) => void, idx: number[] = []): void => {
    if (idx.length === dims.length) return f(idx);
    for (let i = 0; i < dims[idx.length]!; i++) each(dims, f, [...idx, i]);
  };
  each(outShape, (oi) => {
    const env = new Map(lhs.map((v, i) => [v, oi[i]!]));
    const o = oi.slice(lhs.length);
    let acc = 0;
    each(sums.map(range), (si) => {
      sums.forEach((v, i) => env.set(v, si[i]!));
      const [sh, kh] = [sig.map((x) => index(x, env)), ker.map((x) => index(x, env))];
      if (!inside(sh, sShape) || !inside(kh, kShape)) return;
      each(kShape.slice(kShape.length - n), (k) => {
        const pos = k.map((kk, i) => t[i]! * o[i]! + d[i]! * kk - p[i]!);
        if (pos.some((x, i) => x < 0 || x >= sShape[sShape.length - n + i]!)) return;
        const kk = flip ? k.map((x, i) => kShape[kShape.length - n + i]! - 1 - x) : k;
        acc += data[S!]![at(sShape, [...sh, ...pos])]! * data[K!]![at(kShape, [...kh, ...kk])]!;
      });
    });
    out[at(outShape, oi)] = neg ? -acc : acc;
  });
  return out;
}

const CASES: [string, string, Record<string, string>][] = [
  ['depthwise', 'dims N=2, C=3, H=5, W=4, R=3, S=2\nX: [N, C, H, W]\nK: [C, R, S]\nY: [N, C, H-R+1, W-S+1]\nY[n,c,u,v] = K[c,i,j] * X[n,c, u+i, v+j]',
    { X: 'dX[n,c] = dY[n,c] ⋆[p=(R-1, S-1)] flip(K[c])', K: 'dK[c] = Σ_n X[n,c] ⋆ dY[n,c]' }],
  ['dilated', 'dims N=2, C=2, H=7, W=8, F=3, R=3, S=2, D=2\nX: [N, C, H, W]\nK: [F, C, R, S]\nY: [N, F, H-D*(R-1), W-D*(S-1)]\nY[n,f,u,v] = K[f,c,i,j] * X[n,c, u+D*i, v+D*j]',
    { X: 'dX[n,c] = Σ_f dY[n,f] ⋆[d=D, p=(D*R-D, D*S-D)] flip(K[f,c])', K: 'dK[f,c] = Σ_n X[n,c] ⋆[t=D] dY[n,f]' }],
  ['1-D', 'dims N=2, C=2, L=7, F=3, R=3\nX: [N, C, L]\nK: [F, C, R]\nY: [N, F, L-R+1]\nY[n,f,u] = K[f,c,i] * X[n,c, u+i]',
    { X: 'dX[n,c] = Σ_f dY[n,f] ⋆[p=R-1] flip(K[f,c])', K: 'dK[f,c] = Σ_n X[n,c] ⋆ dY[n,f]' }],
  ['1-D, strided and padded', 'dims N=2, C=2, L=9, F=2, R=3\nX: [N, C, L]\nK: [F, C, R]\nY: [N, F, (L+2-R)/2+1]\nY[n,f,u] = K[f,c,i] * X[n,c, 2*u+i-1]',
    { K: 'dK[f,c] = Σ_n X[n,c] ⋆[d=2, p=1] dY[n,f]' }],
  ['transposed (stride 2)', 'dims N=2, C=2, H=3, W=2, F=3, R=3, S=3\nX: [N, C, H, W]\nK: [C, F, R, S]\nY: [N, F, 2*H+1, 2*W+1]\nY[n,f,p,q] = sum(c,h,w,i,j) (p == 2*h+i)*(q == 2*w+j)*K[c,f,i,j]*X[n,c,h,w]',
    { X: 'dX[n,c] = Σ_f dY[n,f] ⋆[t=2] K[c,f]' }],
  ['grouped', 'dims N=2, G=2, Cg=2, Fg=2, H=5, W=4, R=3, S=2\nX: [N, G, Cg, H, W]\nK: [G, Fg, Cg, R, S]\nY: [N, G, Fg, H-R+1, W-S+1]\nY[n,g,f,u,v] = K[g,f,c,i,j] * X[n,g,c, u+i, v+j]',
    { X: 'dX[n,g,c] = Σ_f dY[n,g,f] ⋆[p=(R-1, S-1)] flip(K[g,f,c])', K: 'dK[g,f,c] = Σ_n X[n,g,c] ⋆ dY[n,g,f]' }],
  // the zoo's transposed convolution at a symbolic stride (its dK, solved by the remainder rule into a
  // plain correlation, reads as the seed's strided form: the test below)
  ['transposed (stride T, padding P)', 'dims N=2, C=2, H=3, W=2, F=2, R=3, S=3, P=1, T=2\nX: [N, C, H, W]\nK: [C, F, R, S]\nY: [N, F, (H-1)*T+R-2*P, (W-1)*T+S-2*P]\nY[n,f,y,x] = K[c,f,i,j] * ((y+P-i)%T == 0) * ((x+P-j)%T == 0) * X[n,c, (y+P-i)/T, (x+P-j)/T]',
    { X: 'dX[n,c] = Σ_f dY[n,f] ⋆[t=T, p=P] K[c,f]' }],
  // the zoo's grouped convolution, its input channels one combined index g*Cg+c
  ['grouped, combined channel index', 'dims N=2, G=2, Cg=2, Fg=3, H=5, W=4, R=3, S=2\nX: [N, G*Cg, H, W]\nK: [G, Fg, Cg, R, S]\nY: [N, G, Fg, H-R+1, W-S+1]\nY[n,g,f,u,v] = K[g,f,c,i,j] * X[n, g*Cg+c, u+i, v+j]',
    { X: 'dX[n,p1] = Σ_f dY[n,p1/Cg,f] ⋆[p=(R-1, S-1)] flip(K[p1/Cg,f,p1%Cg])', K: 'dK[g,f,c] = Σ_n X[n,g*Cg+c] ⋆ dY[n,g,f]' }],
  // the affine left side: dX sums over the output channels of p1's group only
  ['grouped, affine left side', 'dims N=2, G=2, Fg=2, Cg=3, H=5, W=4, R=3, S=2\nX: [N, G*Cg, H, W]\nK: [G, Fg, Cg, R, S]\nY: [N, G*Fg, H-R+1, W-S+1]\nY[n, g*Fg+f, u, v] = K[g,f,c,i,j] * X[n, g*Cg+c, u+i, v+j]',
    { X: 'dX[n,p1] = Σ_f dY[n,(p1/Cg)*Fg+f] ⋆[p=(R-1, S-1)] flip(K[p1/Cg,f,p1%Cg])', K: 'dK[g,f,c] = Σ_n X[n,g*Cg+c] ⋆ dY[n,g*Fg+f]' }],
  ['3-D', 'dims N=2, C=2, H=4, W=4, Z=4, F=2, R=2, S=2, Q=3\nX: [N, C, H, W, Z]\nK: [F, C, R, S, Q]\nY: [N, F, H-R+1, W-S+1, Z-Q+1]\nY[n,f,u,v,w] = K[f,c,i,j,k] * X[n,c, u+i, v+j, w+k]',
    { X: 'dX[n,c] = Σ_f dY[n,f] ⋆[p=(R-1, S-1, Q-1)] flip(K[f,c])', K: 'dK[f,c] = Σ_n X[n,c] ⋆ dY[n,f]' }],
  ['1-D, dilated and padded', 'dims N=2, C=2, L=9, F=2, R=3\nX: [N, C, L]\nK: [F, C, R]\nY: [N, F, L+2-2*(R-1)]\nY[n,f,u] = K[f,c,i] * X[n,c, u+2*i-1]',
    { X: 'dX[n,c] = Σ_f dY[n,f] ⋆[d=2, p=2*R-3] flip(K[f,c])', K: 'dK[f,c] = Σ_n X[n,c] ⋆[t=2, p=1] dY[n,f]' }],
  ['1-D depthwise', 'dims N=2, C=3, L=7, R=3\nX: [N, C, L]\nK: [C, R]\nY: [N, C, L-R+1]\nY[n,c,u] = K[c,i] * X[n,c,u+i]',
    { X: 'dX[n,c] = dY[n,c] ⋆[p=R-1] flip(K[c])', K: 'dK[c] = Σ_n X[n,c] ⋆ dY[n,c]' }],
];

describe('the convolution family as correlations ⋆[t, d, p]', () => {
  for (const [what, src, want] of CASES)
    it(`${what}: the display, and its meaning equals the index form`, () => {
      const r = derive(src);
      const p = check(r.program, DERIVED_LIMITS);
      const inputs = randomInputs(p, {}, seededRandom(11), -1, 1);
      const out = run(p, inputs);
      const sizes = resolveSizes(p, inputs);
      for (const [x, m] of Object.entries(want)) {
        expect(r.gradients[x]!.matrix).toBe(m);
        expect(() => katex.renderToString(r.gradients[x]!.latex, { throwOnError: true })).not.toThrow();
        const got = evaluateDisplay(m, { ...inputs, ...out }, (t) => shapeOf(p, t, sizes), sizes);
        expect(out[`d${x}`]!.some((v) => v !== 0)).toBe(true);
        expect(relativeError(got, out[`d${x}`]!), `d${x}`).toBeLessThan(1e-13);
      }
    });
  it("a transposed conv's dK keeps the seed's strided form, its slices labelled with the statement's own indices", () => {
    // dK[c,f,i,j] = Σ_{n,h,w} X[n,c,h,w]·dY[n,f,2h+i,2w+j]: dY correlated with X dilated by 2 (was labelled dK[f,c], X[n,f])
    expect(derive(CASES[4]![1]).gradients.K!.matrix).toMatch(/^dK\[c,f\] = Σₙ dY\[n,f\] ⋆ \(X\[n,c\] dilated by 2\):/);
    // at a symbolic stride T too, the remainder rule having solved (y+P-i)%T == 0 (its numbers: test/diff/quotients.test.ts)
    const symbolic = CASES.find(([what]) => what.startsWith('transposed (stride T'))!;
    expect(derive(symbolic[1]).gradients.K!.matrix).toMatch(/^dK\[c,f\] = Σₙ dY\[n,f\] ⋆ \(X\[n,c\] dilated by T\): the correlation of each dY channel \(zero-padded by P\)/);
  });
  it('a wrong parameter is caught: the evaluator is not vacuous', () => {
    const [, src] = CASES[1]!;
    const p = check(derive(src).program, DERIVED_LIMITS);
    const inputs = randomInputs(p, {}, seededRandom(11), -1, 1);
    const out = run(p, inputs);
    const sizes = resolveSizes(p, inputs);
    const wrong = evaluateDisplay('dX[n,c] = Σ_f dY[n,f] ⋆[d=D, p=(D*R-D, D*S-D)] K[f,c]', { ...inputs, ...out }, (t) => shapeOf(p, t, sizes), sizes);
    expect(relativeError(wrong, out.dX!)).toBeGreaterThan(1e-3);
  });
});

describe("a strided 1-D convolution's dX: the seed's dilate form on one axis", () => {
  const src = layer('conv1d');
  const sizes = { N: 2, C: 2, L: 9, F: 2, R: 3, P: 1, T: 2 };
  it('dX = dilate_T(dY) ⋆ K̃, evaluated by its words: T−1 zeros between the elements of dY, zero-padded, correlated with K̃[c,f,i] = K[f,c,R-1-i]', () => {
    const r = derive(src);
    const m = r.gradients.X!.matrix!;
    expect(m).toBe('dX = dilate_T(dY) ⋆ K̃: the correlation of dY with T-1 zeros between its elements, zero-padded by R-P-1, with the flipped, channel-transposed kernel K̃[c,f,i] = K[f,c,R-1-i]');
    expect(() => katex.renderToString(r.gradients.X!.latex, { throwOnError: true })).not.toThrow();
    const p = check(r.program, DERIVED_LIMITS);
    const inputs = randomInputs(p, sizes, seededRandom(12), -1, 1);
    const out = run(p, inputs, sizes);
    const { N, C, L, F, R, P, T } = sizes;
    const Lo = (L + 2 * P - R) / T + 1;
    const pad = R - P - 1;
    const { K, dY } = inputs as Record<string, Float64Array>;
    // dY[n,f] dilated and padded: element o of it is dY[n,f,(o − pad)/T] where that is a whole index
    const spread = (n: number, f: number, o: number) => {
      const q = o - pad;
      return q >= 0 && q % T === 0 && q / T < Lo ? dY![(n * F + f) * Lo + q / T]! : 0;
    };
    const byHand = Float64Array.from({ length: N * C * L }, (_, x) => {
      const [n, c, o] = [Math.floor(x / (C * L)), Math.floor(x / L) % C, x % L];
      let s = 0;
      for (let f = 0; f < F; f++) for (let i = 0; i < R; i++) s += spread(n, f, o + i) * K![(f * C + c) * R + (R - 1 - i)]!;
      return s;
    });
    expect(out.dX!.some((v) => v !== 0)).toBe(true);
    expect(relativeError(byHand, out.dX!)).toBeLessThan(1e-13);
  });
});
