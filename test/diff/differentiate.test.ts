// differentiate's cost on large and deep programs: the gradient text grows with the program as the
// math requires, not with every access multiplied by every factor above it.
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/diff/derive.js';
import { checkGradients } from '../helpers.js';

const nested = (n: number) => `y = ${'1/(a+'.repeat(n)}1/a${')'.repeat(n)}`;

describe('the chain rule through nested quotients 1/(a+1/(a+…))', () => {
  it('is right (central differences)', () => {
    const r = checkGradients(nested(6), {}, { lo: 1, hi: 2 });
    expect(r.errors.a).toBeLessThan(1e-6);
  });
  it('is written in Horner form: one copy of each outer factor, not one per access below it', () => {
    expect(derive(nested(2)).gradients.a!.index).toBe('da = -(1 - (1 - 1/a^2)/(a + 1/a)^2)/(a + 1/(a + 1/a))^2');
  });
  it('grows as n² with the depth n (it grew as n³: 8× per doubling)', () => {
    const size = (n: number) => derive(nested(n)).gradients.a!.index.length;
    expect(size(80) / size(40)).toBeLessThan(4.5);
  });
});
