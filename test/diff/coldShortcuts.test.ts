// The shortcuts that keep a cold `derive` of a big program short (issue 15, item 6) must change no
// result: reuseForward looks up only nodes of the kinds the forward right sides have, replaceExpr
// hashes only nodes of the pattern's kind, and simplify's like-term buckets mix the numbers of index
// expressions into the hash (so 10 000 terms k·(i == p) are told apart without their keys). Each is
// checked here where a wrong shortcut would silently drop a rewrite or merge unlike terms.
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/index.js';
import { check } from '../../src/ir/check.js';
import { access, add, compare, freeIndices, mul, num, reduce, replaceExpr } from '../../src/ir/exprs.js';
import { idxAdd, idxNum, idxScale, idxSizeName, idxSub, idxVar } from '../../src/ir/affine.js';
import { polyConst, polyVar } from '../../src/ir/sizes.js';
import { printExpr } from '../../src/ir/print.js';
import { sizeName } from '../../src/ir/sizes.js';
import type { Expr } from '../../src/ir/types.js';
import { forwardValues, reuseForward } from '../../src/diff/reuseForward.js';
import { simplify } from '../../src/diff/simplify.js';
import { factorCommon } from '../../src/diff/factorCommon.js';
import { indexLatex } from '../../src/diff/renderLatex.js';
import { checkGradients } from '../helpers.js';

const N = sizeName('N');
const rhs = (src: string): Expr => check(src).statements.at(-1)!.rhs;
const equals = (i: number | string, p: string): Expr =>
  compare('==', { kind: 'index', expr: typeof i === 'number' ? idxNum(i) : idxVar(i) }, { kind: 'index', expr: idxVar(p) });

describe('reuseForward: only nodes of a forward right side’s kind are looked up', () => {
  it('records the kinds of the non-trivial right sides', () => {
    const p = check('dims N\nX: [N]\nY[i] = exp(X[i])\nZ[i] = X[i] + Y[i]\nW[i] = X[i]');
    expect([...forwardValues(p.statements).kinds].sort()).toEqual(['add', 'call']);
  });

  it('still finds a forward value under nodes of other kinds (a quotient, a product, a sum)', () => {
    const fv = forwardValues(check('dims N\nX: [N]\nY[i] = exp(X[i])').statements);
    const e = rhs('dims N\nX: [N]\nb: [N]\nZ[i] = (b[i]*exp(X[i]) + 1) / (2 + exp(X[i]))');
    expect(printExpr(reuseForward(e, fv, new Map([['i', N]])))).toBe('(b[i]*Y[i] + 1)/(2 + Y[i])');
  });

  it('the gradient that reads it is the textbook’s and matches central differences', () => {
    const src = 'dims N=5\nX: [N]\nY[i] = exp(X[i])\nL = sum(i) Y[i]*Y[i] + exp(X[i])';
    expect(derive(src, { wrt: ['X'] }).gradients.X!.index).toContain('Y[');
    expect(checkGradients(src, { N: 5 }).errors.X!).toBeLessThan(1e-6);
  });
});

describe('replaceExpr: only nodes of the pattern’s kind are compared', () => {
  it('replaces every alpha-equal copy, whatever kinds stand around it', () => {
    const pattern = reduce('sum', [{ name: 'k', extent: N }], access('A', [idxVar('k')]));
    const copy = reduce('sum', [{ name: 'k2', extent: N }], access('A', [idxVar('k2')]));
    const by = access('S', []);
    const e = add([mul([num(2), copy]), { kind: 'neg', arg: copy }, access('A', [idxVar('k')])]);
    expect(printExpr(replaceExpr(e, pattern, by))).toBe('2*S - S + A[k]');
  });
});

describe('simplify: like terms are collected by key, whatever their hash buckets', () => {
  it('terms that differ only in a number of an index expression stay apart', () => {
    const e = add([mul([num(2), equals(3, 'p')]), equals(4, 'p'), mul([num(5), equals(3, 'p')]), equals(1, 'p')]);
    expect(printExpr(simplify(e))).toBe('7*(3 == p) + (4 == p) + (1 == p)');
  });

  it('alpha-equal terms (bound indices named apart) are still collected', () => {
    const t = (k: string) => reduce('sum', [{ name: k, extent: N }], mul([access('A', [idxVar(k)]), equals(3, 'p')]));
    expect(printExpr(simplify(add([t('k'), t('k2'), t('j')])))).toBe('3*(sum(k) A[k]*(3 == p))');
  });

  it('a sum of 2 000 distinct guarded reads keeps every term, in order', () => {
    const terms = Array.from({ length: 2000 }, (_, i) => mul([num((i % 7) + 1), equals(i, 'p')]));
    const out = simplify(add(terms));
    expect(out.kind).toBe('add');
    expect(printExpr(out)).toBe(printExpr(add(terms)));
  });
});

describe('factorCommon: the shared factors, searched until none is left', () => {
  const factored = (src: string) => printExpr(factorCommon(rhs(src)));
  it('moves out each factor as often as the term that has it least, in the first term’s order', () => {
    expect(factored('f = 2*a*a*b + 4*a*b*c')).toBe('2*a*b*(a + 2*c)');
    expect(factored('f = a*a*b - a*a*c + a*b*a')).toBe('a*a*(b + b - c)');
    expect(factored('f = x*y*x + x*x*z')).toBe('x*x*(y + z)');
  });
  it('leaves a sum with no common factor as it is, also when the first two terms share one', () => {
    expect(factored('f = a*b + c*d')).toBe('a*b + c*d');
    expect(factored('f = a*b + a*c + d')).toBe('a*b + a*c + d');
  });
});

describe('indexLatex: positive parts first, then negative ones', () => {
  it('prints what the language prints, in LaTeX', () => {
    const u = idxVar('u');
    const i = idxVar('i');
    // u*T + i - P
    const conv = idxSub(idxAdd(idxScale(u, polyVar('T')), i), idxSizeName('P'));
    expect(indexLatex(conv)).toBe('T u + i - P');
    expect(indexLatex(idxSub(idxNum(3), u))).toBe('3 - u');
    expect(indexLatex(idxSub(idxNum(-2), u))).toBe('-u - 2');
    expect(indexLatex(idxScale(u, polyConst(-2)))).toBe('-2u');
    expect(indexLatex(idxNum(0))).toBe('0');
  });
});

describe('freeIndices: one walk, the bound names restored after each binder', () => {
  it('a name bound inside is free beside it; argmax positions are outside its binder', () => {
    const inner = reduce('sum', [{ name: 'k', extent: N }], mul([access('A', [idxVar('i'), idxVar('k')]), access('B', [idxVar('k'), idxVar('j')])]));
    const e = add([inner, access('C', [idxVar('k')]), { kind: 'argmax', op: 'max', indices: [{ name: 'q', extent: N }], at: [idxVar('p')], body: access('D', [idxVar('q'), idxVar('m')]) }]);
    expect(freeIndices(e)).toEqual(['i', 'j', 'k', 'p', 'm']);
    expect(freeIndices(inner)).toEqual(['i', 'j']);
  });
});
