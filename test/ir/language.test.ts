// The language as LANGUAGE.md defines it: Einstein sums, reduction scope, ranges, zero padding,
// user functions — each checked through the interpreter, and the harder δ cases numerically.
import { describe, expect, it } from 'vitest';
import { check, derive, evaluate } from '../../src/index.js';
import { printExpr, printStatement } from '../../src/ir/print.js';
import { access } from '../../src/ir/exprs.js';
import { idxAdd, idxNum, idxScale, idxVar } from '../../src/ir/affine.js';
import { polyConst } from '../../src/ir/sizes.js';
import { eliminateDeltas } from '../../src/diff/eliminateDeltas.js';
import { printSize } from '../../src/ir/sizes.js';
import { checkGradients } from '../helpers.js';

const stmt = (src: string, k = -1) => printStatement(check(src).statements.at(k)!);

describe('Einstein convention and reduction scope', () => {
  it('sums an index over the product term that holds it, inside a function call', () => {
    expect(stmt('Y[n,f] = relu(X[n,d]*W[f,d] + b[f])')).toBe('Y[n,f] = relu(sum(d) X[n,d]*W[f,d] + b[f])');
  });
  it('sums over the whole product when the uses sit in several additive terms', () => {
    expect(stmt('L = (S[n] - T[n])^2')).toBe('L = sum(n) (S[n] - T[n])^2');
  });
  it('a reduction extends over * and / and stops at + and -', () => {
    const r = evaluate('a: [I]\nb: [I]\ns = sum(i) a[i]*b[i] + c', { a: [1, 2], b: [3, 4], c: 10 });
    expect(r.s![0]).toBe(1 * 3 + 2 * 4 + 10);
    const m = evaluate('dims N\nx: [N]\ns = sum(n) (x[n] + 1) / N', { x: [1, 2, 3] });
    expect(m.s![0]).toBeCloseTo((2 + 3 + 4) / 3);
  });
  it('max(a, b) is the function and max(i) e the reduction', () => {
    const r = evaluate('x: [N]\nh[n] = max(0, x[n] - 1)\nm = max(n) x[n]', { x: [0.5, 3, 2] });
    expect([...r.h!]).toEqual([0, 2, 1]);
    expect(r.m![0]).toBe(3);
  });
  it('reads outside a tensor are 0 (zero padding)', () => {
    const r = evaluate('dims H=4\nX: [H]\nY: [H]\nY[u] = X[u-1] + X[u+1]', { X: [1, 2, 3, 4] });
    expect([...r.Y!]).toEqual([2, 4, 6, 3]);
    // undeclared, the output takes the largest range in which every read stays in bounds at the top
    expect([...evaluate('dims H=4\nX: [H]\nY[u] = X[u-1] + X[u+1]', { X: [1, 2, 3, 4] }).Y!]).toEqual([2, 4, 6]);
  });
  it('infers the conv output extent (H+2P-R)/T+1 for an undeclared output', () => {
    const p = check('dims N, C, H, W, F, R=3, S=3, P=1, T=2\nX: [N,C,H,W]\nK: [F,C,R,S]\nY[n,f,u,v] = K[f,c,i,j]*X[n,c,u*T+i-P,v*T+j-P]');
    expect(p.tensors.find((t) => t.name === 'Y')!.shape.map(printSize)).toEqual(['N', 'F', '(H+2*P-R)/T+1', '(W+2*P-S)/T+1']);
  });
  it('scalars: f = (x+y)*z is a whole program', () => {
    expect(evaluate('f = (x+y)*z', { x: -2, y: 5, z: -4 }).f![0]).toBe(-12);
  });
});

describe('user functions', () => {
  it('a def activation differentiates correctly (numeric check)', () => {
    const src = 'def swish(x) = x * sigmoid(x)\ndims N, D\nX: [N, D]\nY[n,d] = swish(X[n,d])';
    const { errors } = checkGradients(src, { N: 3, D: 4 });
    expect(errors.X).toBeLessThan(1e-6);
    expect(derive(src).gradients.X!.index).toBe('dX[n,d] = sigmoid(X[n,d])*dY[n,d]*(1 + X[n,d]*(1 - sigmoid(X[n,d])))');
  });
  it('a def with two parameters, softplus and pow', () => {
    const { errors } = checkGradients('def f(a, b) = softplus(a) * pow(b, 2) + sqrt(b)\nX: [N]\nZ: [N]\nY[n] = f(X[n], Z[n])', { N: 4 }, { lo: 0.2, hi: 2 });
    expect(Math.max(...Object.values(errors))).toBeLessThan(1e-6);
  });
});

describe('delta elimination beyond unit coefficients', () => {
  const cases: [string, string, Record<string, number>][] = [
    ['subsampling: divisibility guard', 'dims H=7\nX: [H]\nY[u] = X[2*u]', {}],
    ['symbolic stride coefficient', 'dims H=9, T=3\nX: [H]\nY[u] = X[u*T]', {}],
    ['two equalities at once', 'dims A=5\nX: [A, A]\nY: [A, A]\nY[i,j] = X[i+j, i-j+2]', {}],
    ['the diagonal X[i,i]', 'dims N=4\nX: [N, N]\nY[i] = X[i,i]', {}],
    ['an index used as a value keeps its range as a guard', 'dims H=6, R=3\nX: [H]\nY[u] = sum(i:R) X[u+i]*i', {}],
    ['fan-out: a tensor read twice accumulates', 'X: [N]\nZ[n] = X[n]*X[n]\nY[n] = Z[n] + exp(X[n])', { N: 4 }],
    ['mixed radix with padding (pool with offset)', 'dims H=7\nX: [H]\nY[u] = max(i:2) X[2*u+i-1]', {}],
  ];
  for (const [name, src, sizes] of cases)
    it(name, () => {
      const { errors, magnitudes } = checkGradients(src, sizes);
      for (const k of Object.keys(errors)) {
        expect(errors[k], `d${k}`).toBeLessThan(1e-6);
        expect(magnitudes[k]).toBeGreaterThan(0);
      }
    });
  it('subsampling prints the divisibility guard', () => {
    expect(derive('dims H\nX: [H]\nY[u] = X[2*u]').gradients.X!.index).toBe('dX[h] = (h%2 == 0)*dY[h/2]');
  });
  it('an equation with no whole solution gives 0', () => {
    // δ(2u, 2v+1): 2u = 2v + 1 has no solution in whole numbers, so the term vanishes
    const sizeN = { kind: 'poly', poly: new Map([['N', 1]]) } as const;
    const term = {
      sums: [{ name: 'u', extent: sizeN }, { name: 'v', extent: sizeN }],
      factor: access('A', [idxVar('u')]),
      deltas: [{ a: idxScale(idxVar('u'), polyConst(2)), b: idxAdd(idxScale(idxVar('v'), polyConst(2)), idxNum(1)) }],
    };
    const ctx = { forwardLhs: new Set<string>(), positions: [], shapeOf: () => undefined, defaults: new Map() };
    expect(eliminateDeltas(term, ctx)).toBeNull();
    // while δ(2u, 2v) has the solution u = v
    expect(printExpr(eliminateDeltas({ ...term, deltas: [{ a: term.deltas[0]!.a, b: idxScale(idxVar('v'), polyConst(2)) }] }, ctx)!.expr)).toBe('sum(v) A[v]');
  });
});

describe('determinism', () => {
  it('the same program derives to byte-identical output', () => {
    const src = 'dims N, C, H, W, F, R=3, S=3, P=1, T=2\nX: [N,C,H,W]\nK: [F,C,R,S]\nY[n,f,u,v] = K[f,c,i,j]*X[n,c,u*T+i-P,v*T+j-P]';
    const a = JSON.stringify(derive(src, { steps: true }));
    const b = JSON.stringify(derive(src, { steps: true }));
    expect(a).toBe(b);
  });
});
