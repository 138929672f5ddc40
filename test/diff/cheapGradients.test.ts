// The gradients a textbook writes (issue 15, items 3, 4 and 7): a gradient reads a value the forward
// computed (reuseForward.ts), a factor that does not depend on a sum's indices stands outside it
// (hoistFactors.ts), and powers of one base and fractions are collected (collectPowers.ts) — each
// visible in --steps, and each checked against central differences.
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/index.js';
import { check } from '../../src/ir/check.js';
import { call, div, mul, neg, num, pow, reduce, access } from '../../src/ir/exprs.js';
import { idxVar } from '../../src/ir/affine.js';
import { printExpr } from '../../src/ir/print.js';
import { sizeName } from '../../src/ir/sizes.js';
import type { Expr } from '../../src/ir/types.js';
import { collectPowers } from '../../src/diff/collectPowers.js';
import { hoistFactors } from '../../src/diff/hoistFactors.js';
import { forwardValues, reuseForward } from '../../src/diff/reuseForward.js';
import { checkGradients, layer } from '../helpers.js';

const rhs = (src: string): Expr => check(src).statements.at(-1)!.rhs;

describe('reuseForward: a gradient reads the forward value', () => {
  it("attention's softmax gradient reads A at the gradient's position, and the row sum stands alone", () => {
    const r = derive(layer('attention'), { wrt: ['Q'], steps: true });
    expect(r.gradients.S!.index).toBe('dS[h,i,t] = A[h,i,t]*(dA[h,i,t] - sum(j) A[h,i,j]*dA[h,i,j])');
    const steps = r.steps!.join('\n');
    expect(steps).toContain('exp(S[h,i,t] - logsumexp(j2) S[h,i,j2]) is the forward value A[h,i,t]');
    expect(steps).toMatch(/factor out of sum\(j\): .* = -A\[h,i,t\]\*\(sum\(j\) A\[h,i,j\]\*dA\[h,i,j\]\)/);
  });

  it('log-softmax: dX = dY − exp(Y)·Σ dY, O(C) per row where it was O(C²)', () => {
    expect(derive(layer('log_softmax')).gradients.X!.index).toBe('dX[n,c] = dY[n,c] - exp(Y[n,c])*(sum(c2) dY[n,c2])');
    const r = checkGradients(layer('log_softmax'), { N: 3, C: 5 });
    expect(r.errors.X!).toBeLessThan(1e-6);
  });

  it('replaces only where every index of the read runs over that whole dimension', () => {
    const p = check('dims N, M\nX: [N]\nY[i] = exp(X[i])');
    const fv = forwardValues(p.statements);
    const e = rhs('dims N, M\nX: [N]\nZ[i] = exp(X[i])');
    const N = sizeName('N');
    expect(printExpr(reuseForward(e, fv, new Map([['i', N]])))).toBe('Y[i]');
    // an index over M, or a shifted one, would read Y where exp(X[…]) is not Y (or 0 past its end)
    expect(printExpr(reuseForward(e, fv, new Map([['i', sizeName('M')]])))).toBe('exp(X[i])');
    const shifted = rhs('dims N\nX: [N]\nZ[i] = exp(X[i+1])');
    expect(printExpr(reuseForward(shifted, fv, new Map([['i', N]])))).toBe('exp(X[i+1])');
  });
});

describe('hoistFactors: what does not depend on a sum stands outside it', () => {
  const N = sizeName('N');
  const a = access('a', [idxVar('n')]);
  const b = access('b', [idxVar('k')]);
  it('Σ_k −a[n]·b[k] = −a[n]·Σ_k b[k]; a quotient by what does not depend on k goes along', () => {
    expect(printExpr(hoistFactors(reduce('sum', [{ name: 'k', extent: N }], neg(mul([a, b])))))).toBe('-a[n]*(sum(k) b[k])');
    expect(printExpr(hoistFactors(reduce('sum', [{ name: 'k', extent: N }], div(mul([a, b]), call('sqrt', [a])))))).toBe('(a[n]*(sum(k) b[k]))/sqrt(a[n])');
  });
  it('leaves a number or a lone denominator where it is (nothing repeated is saved)', () => {
    const e = reduce('sum', [{ name: 'k', extent: N }], div(mul([num(2), b]), a));
    expect(hoistFactors(e)).toBe(e);
  });
});

describe('collectPowers: exponents of one base add, fractions multiply out', () => {
  const v = access('v', [idxVar('n')]);
  const x = access('x', [idxVar('n')]);
  it('1/√v/√v² = v^(-3/2), and −2·…·1/2 = −…', () => {
    expect(printExpr(collectPowers(div(div(x, call('sqrt', [v])), pow(call('sqrt', [v]), num(2))))!)).toBe('x[n]*v[n]^(-3/2)');
    expect(printExpr(collectPowers(mul([num(-2), x, div(num(1), num(2))]))!)).toBe('-x[n]');
  });
  it('x·x and a/2 stay as they are', () => {
    expect(collectPowers(mul([x, x]))).toBeUndefined();
    expect(collectPowers(div(x, num(2)))).toBeUndefined();
  });
  it("layer norm's dvar is −½·(var + ε)^(−3/2)·Σ …, and the derivation shows the step", () => {
    const r = derive(layer('layer_norm'), { steps: true });
    expect(r.gradients.var!.index).toBe('dvar[n] = -((var[n] + 0.00001)^(-3/2)*(sum(d) (X[n,d] - mu[n])*g[d]*dY[n,d]))/2');
    expect(r.steps!.join('\n')).toMatch(/simplify — collect powers: .*\/sqrt\(var\[n'\] \+ 0\.00001\)\^2 = .*\(var\[n'\] \+ 0\.00001\)\^\(-3\/2\)/);
    const c = checkGradients(layer('layer_norm'), { N: 3, D: 4 }, { lo: 0.1, hi: 1 });
    for (const e of Object.values(c.errors)) expect(e).toBeLessThan(1e-6);
  });
});
