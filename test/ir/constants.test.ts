// Named constants (LANGUAGE.md v2): `const eps = 1e-5` is a value, not an input — no gradient, no
// array for compile, overridable through `constants` — and an index never silently turns a tensor
// of the program into a size.
import { describe, expect, it } from 'vitest';
import { check, compile, derive, evaluate } from '../../src/index.js';
import { checkGradients, errorOf } from '../helpers.js';

describe('named constants', () => {
  it('a constant is not an input: no gradient for it', () => {
    const r = derive('const eps = 0.5\nf = sqrt(x*x + eps)');
    expect(Object.keys(r.gradients)).toEqual(['x']);
    expect(check('const eps = 0.5\nf = sqrt(x*x + eps)').tensors.find((t) => t.name === 'eps')).toMatchObject({ role: 'constant', value: 0.5 });
  });
  it('several on a line, signed, in scientific notation, and inside a def body', () => {
    const src = 'const eps = 1e-5, a = -2, b = +3\ndef g(x) = a*x + b\nf = g(x) + eps';
    expect(evaluate(src, { x: 1.5 }).f![0]).toBeCloseTo(-2 * 1.5 + 3 + 1e-5, 12);
    expect(derive(src).gradients.x!.index).toBe('dx = a');
  });
  it('gradients through constants agree with central differences (layer norm with eps)', () => {
    const src = 'const eps = 1e-5\ndims N=2, D=4\nX: [N, D]\nm[n] = mean(d) X[n,d]\nv[n] = mean(d) (X[n,d] - m[n])^2\nY[n,d] = (X[n,d] - m[n]) / sqrt(v[n] + eps)';
    const r = checkGradients(src);
    expect(r.errors.X).toBeLessThan(1e-6);
    expect(r.magnitudes.X).toBeGreaterThan(0.01);
  });
  it('evaluate and compile take other values through `constants`; compile needs no array', () => {
    const src = 'const eps = 0.5\ndims N=3\nX: [N]\nf = sum(i) X[i]*X[i]*eps';
    const X = Float64Array.of(1, 2, 3);
    expect(evaluate(src, { X }).f![0]).toBe(7);
    expect(evaluate(src, { X }, { constants: { eps: 2 } }).f![0]).toBe(28);
    const k = compile(src);
    expect(k.inputs).toEqual(['X']);
    expect(Object.keys(k.shapes)).toEqual(['X', 'f']);
    expect(k.forward({ X }).f![0]).toBe(7);
    expect([...k.backward({ X }).dX!]).toEqual([1, 2, 3]);
    expect(compile(src, { constants: { eps: 2 } }).forward({ X }).f![0]).toBe(28);
    expect(() => compile(src, { constants: { tau: 1 } })).toThrow(/tau is not a constant of the program \(constants: eps\)/);
    expect(() => evaluate(src, { X }, { constants: { eps: Number.NaN } })).toThrow(/constant eps must be a number/);
  });
  it('misuse is a located error', () => {
    const cases: [string, RegExp, number, number][] = [
      ['const eps = 0.5\neps = x', /eps is a constant and cannot be assigned/, 2, 1],
      ['const eps = 0.5\nf = X[eps]', /eps is a constant \(a real number\), not an index or a size/, 2, 7],
      ['const eps = 0.5\nf = eps[0]', /eps is a constant, not a tensor/, 2, 5],
      ['const eps = 0.5\nY[eps] = x', /eps is a constant, not an index/, 2, 3],
      ['const eps = 0.5\neps: [3]', /eps is a constant, it cannot also be a tensor/, 2, 1],
      ['dims N\nconst N = 2', /N is a size, it cannot also be a constant/, 2, 7],
      ['const a = 1, a = 2', /constant a is defined twice/, 1, 14],
      ['const a = x', /the value of constant a must be a number, found `x`/, 1, 11],
      ['const exp = 1', /would hide the built-in function exp/, 1, 7],
    ];
    for (const [src, message, line, col] of cases) {
      const e = errorOf(() => check(src));
      expect(e.message, src).toMatch(message);
      expect([e.span?.line, e.span?.col], src).toEqual([line, col]);
    }
  });
});

describe('no silent size capture', () => {
  it('an index l beside a scalar output L assigned later: L stays a tensor', () => {
    const p = check('Y[l] = X[l]*2\nL = sum(l) Y[l]');
    expect(p.tensors.find((t) => t.name === 'L')?.role).toBe('output');
    expect(p.sizes.map((s) => s.name)).not.toContain('L');
    expect(evaluate('Y[l] = X[l]*2\nL = sum(l) Y[l]', { X: [1, 2, 3] }).L![0]).toBe(12);
  });
  it('L on its own right side is a read of itself, not the size of l', () => {
    expect(errorOf(() => check('dims N=3\nX: [N]\nL = sum(l) X[l] / L')).message).toMatch(/L reads itself/);
  });
  it('a constant is never the size of an index', () => {
    const src = 'const L = 4\ndims N=3\nX: [N]\nY[l] = X[l] / L';
    expect(check(src).sizes.map((s) => s.name)).toEqual(['N']);
    expect([...evaluate(src, { X: [4, 8, 12] }).Y!]).toEqual([1, 2, 3]);
  });
});
