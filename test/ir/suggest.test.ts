// "did you mean …?": the edit distance behind the suggestion for an unknown function is right, and
// costs nothing on names no typo makes.
import { describe, expect, it } from 'vitest';
import { check } from '../../src/ir/check.js';
import { editDistanceWithin } from '../../src/ir/suggest.js';
import { errorOf } from '../helpers.js';

describe('"did you mean" (the edit distance)', () => {
  it('agrees with the full matrix on every pair of short names, within the bound', () => {
    const full = (a: string, b: string) => {
      let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
      for (let i = 1; i <= a.length; i++) {
        const row = [i];
        for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = row;
      }
      return prev[b.length]!;
    };
    const names = ['', 'a', 'ab', 'ba', 'abc', 'acb', 'relu', 'reul', 'sigmoid', 'sigmod', 'softplus', 'sofplus', 'tanh', 'than', 'xxxxxxxx'];
    for (const a of names)
      for (const b of names)
        for (let max = 0; max <= 4; max++) {
          const d = full(a, b);
          expect(editDistanceWithin(a, b, max), `${a} ${b} ${max}`).toBe(d <= max ? d : undefined);
        }
  });
  it('two 20 000-character names (3.9 GB before) cost nothing: no suggestion for a name that long', () => {
    const src = `def ${'b'.repeat(20000)}(x) = x\ny = ${'a'.repeat(20000)}(x)`;
    const t = process.cpuUsage();
    const e = errorOf(() => check(src));
    const u = process.cpuUsage(t);
    expect((u.user + u.system) / 1000).toBeLessThan(200);
    expect(e.hint).not.toMatch(/did you mean/);
    expect(errorOf(() => check('Y[i] = sigmod(X[i])')).hint).toMatch(/^did you mean sigmoid\?/);
  });
});
