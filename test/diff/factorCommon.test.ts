// factorCommon: a factor every term shares moves out of the sum — and the gradient stays right
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/index.js';
import { factorCommon } from '../../src/diff/factorCommon.js';
import { check } from '../../src/ir/check.js';
import { printExpr } from '../../src/ir/print.js';
import { checkGradients } from '../helpers.js';

/** The right side of `Y = text` over scalars a, b, c, h, p, q, s, x, y, N, factored. */
const factored = (text: string) => {
  const scalars = ['a', 'b', 'c', 'h', 'p', 'q', 's', 'x', 'y', 'N'].map((v) => `${v}: []`).join('\n');
  return printExpr(factorCommon(check(`${scalars}\nY = ${text}`).statements[0]!.rhs));
};

describe('factorCommon', () => {
  it('moves a factor every term shares, the sum first in what stays', () => {
    expect(factored('-c*h + s*h')).toBe('h*(s - c)');
    expect(factored('a/N - b/N')).toBe('(a - b)/N');
    expect(factored('2*a - 2*b')).toBe('2*(a - b)');
    expect(factored('-a/N - b/N')).toBe('-(a + b)/N');
  });
  it('leaves a sum alone when a term does not share the factor, or a quotient would stay inside', () => {
    expect(factored('a*h + b')).toBe('a*h + b');
    expect(factored('a/N + b')).toBe('a/N + b');
    expect(factored('y/(p*q) - x/(p*p*p*q)')).toBe('y/(p*q) - x/(p*p*p*q)');
    expect(factored('a/2 + b/2')).toBe('a/2 + b/2');
  });
  it('shows the step under --steps (and log of exp beside it)', () => {
    const { steps } = derive('dims N=2, C=3\nS: [N, C]\nYt: [N, C]\nL = sum(n,c) -Yt[n,c]*log(exp(S[n,c] - logsumexp(k) S[n,k]))/N', { steps: true });
    const text = steps!.join('\n');
    expect(text).toContain('factor common: -Yt[n,c]/N + (exp(S[n,c] - logsumexp(k) S[n,k])*(sum(c2) Yt[n,c2]))/N = (exp(S[n,c] - logsumexp(k) S[n,k])*(sum(c2) Yt[n,c2]) - Yt[n,c])/N');
    // and log(exp(x)) is x (simplify.ts), shown as its own step
    expect(text).toContain("log of exp: log(exp(S[n',c'] - logsumexp(k) S[n',k])) = S[n',c'] - logsumexp(k) S[n',k]");
  });
  it('keeps every factored gradient numerically right (central differences)', () => {
    const programs = [
      'dims N=3, C=4\nS: [N, C]\nYt: [N, C]\nL = sum(n,c) -Yt[n,c]*log(exp(S[n,c] - logsumexp(k) S[n,k]))/N',
      'dims N=2, K=3\nZ: [N, K]\nHs: [N, K]\nCd: [N, K]\nHn[n,k] = (1 - Z[n,k])*Cd[n,k] + Z[n,k]*Hs[n,k]',
      'dims T=4\nS: [T, T]\nA[i,t] = exp(S[i,t] - logsumexp(j) S[i,j])',
      'dims N=3, D=2\nX: [N, D]\nY[n,d] = X[n,d]*sigmoid(X[n,d])',
    ];
    for (const src of programs) {
      const { errors } = checkGradients(src, {});
      for (const [name, e] of Object.entries(errors)) expect(e, `d${name} of ${src}`).toBeLessThan(1e-6);
    }
  });
});
