// matchIndices: an expression is a pattern with its free indices replaced — found, with the
// replacement, or refused.
import { describe, expect, it } from 'vitest';
import { printIndex } from '../../src/ir/affine.js';
import { check } from '../../src/ir/check.js';
import { matchIndices } from '../../src/ir/matchIndices.js';
import type { Expr } from '../../src/ir/types.js';

/** The right side of the last statement of a program. */
const rhs = (src: string): Expr => check(src).statements.at(-1)!.rhs;
const match = (pattern: string, target: string, vars: string[]) => {
  const m = matchIndices(rhs(pattern), rhs(target), new Set(vars));
  return m && Object.fromEntries([...m].map(([k, v]) => [k, printIndex(v)]));
};

describe('matchIndices', () => {
  it('binds each free index at its first plain use; bound indices correspond by position', () => {
    expect(match('dims N, C\nS: [N, C]\nA[n,c] = exp(S[n,c] - logsumexp(c2) S[n,c2])', 'dims N, C\nS: [N, C]\nB[m,t] = exp(S[m,t] - logsumexp(j) S[m,j])', ['n', 'c'])).toEqual({ n: 'm', c: 't' });
  });

  it('keeps a pattern variable apart from a bound index of the same name in the target', () => {
    // the pattern's free j is the target's t; the target's bound j is the pattern's j2
    expect(match('dims N, C\nS: [N, C]\nA[n,j] = exp(S[n,j] - logsumexp(j2) S[n,j2])', 'dims N, C\nS: [N, C]\nB[m,t] = exp(S[m,t] - logsumexp(j) S[m,j])', ['n', 'j'])).toEqual({ n: 'm', j: 't' });
  });

  it('checks every other use, affine ones included, once the values are known', () => {
    const p = 'dims N\nX: [N]\nA[i] = X[i] * X[i+1]';
    expect(match(p, 'dims N\nX: [N]\nB[k] = X[k+2] * X[k+3]', ['i'])).toEqual({ i: 'k+2' });
    expect(match(p, 'dims N\nX: [N]\nB[k] = X[k] * X[k+2]', ['i'])).toBeUndefined();
  });

  it('refuses another tensor, another operator, another order of operands and another extent', () => {
    const p = 'dims N\nX: [N]\nY: [N]\nA[i] = X[i] * Y[i]';
    expect(match(p, 'dims N\nX: [N]\nY: [N]\nB[i] = Y[i] * X[i]', ['i'])).toBeUndefined();
    expect(match(p, 'dims N\nX: [N]\nY: [N]\nB[i] = X[i] + Y[i]', ['i'])).toBeUndefined();
    expect(match('dims N, M\nX: [N, M]\nA[i] = sum(j:2) X[i,2*j]', 'dims N, M\nX: [N, M]\nB[i] = sum(j:3) X[i,2*j]', ['i'])).toBeUndefined();
  });

  it('never lets a free index stand for an index the target binds inside the match', () => {
    // sum(j) X[i,j]*Z[i] against sum(j) X[j,j]*Z[j]: i would have to be the bound j
    expect(match('dims N\nX: [N, N]\nZ: [N]\nA[i] = sum(j) X[i,j]*Z[i]', 'dims N\nX: [N, N]\nZ: [N]\nB = sum(j) X[j,j]*Z[j]', ['i'])).toBeUndefined();
  });
});
