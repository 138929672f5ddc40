// The LaTeX form must be LaTeX that renders, and must mean what the index form means. KaTeX parses
// it with throwOnError (a double subscript, an unbalanced \left, an unknown command all throw) for
// every example layer and for random programs; regressions pin the grouping of quotients and
// remainders of compound index expressions, which a renderer accepts but a reader misreads.
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import katex from 'katex';
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/index.js';
import { generateProgram } from '../property/generate.js';

const layersDir = new URL('../../examples/layers/', import.meta.url);

const renders = (latex: string) => katex.renderToString(latex, { throwOnError: true, displayMode: true });

describe('LaTeX of the derived gradients renders in KaTeX', () => {
  for (const file of readdirSync(layersDir).filter((f) => f.endsWith('.dg')).sort())
    it(`examples/layers/${file}`, () => {
      const grads = derive(readFileSync(new URL(file, layersDir), 'utf8')).gradients;
      expect(Object.keys(grads).length).toBeGreaterThan(0);
      for (const [name, g] of Object.entries(grads)) expect(() => renders(g.latex), `d${name}: ${g.latex}`).not.toThrow();
    });

  it('random programs (the property-test generator, 200 programs)', () => {
    let rendered = 0;
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 9999 }), { maxLength: 400, size: 'max' }), fc.integer({ min: 1, max: 1_000_000 }), (choices, seed) => {
        const g = generateProgram(choices, seed);
        for (const [name, grad] of Object.entries(derive(g.source).gradients)) {
          expect(() => renders(grad.latex), `${g.source}\nd${name}: ${grad.latex}`).not.toThrow();
          rendered++;
        }
      }),
      { numRuns: 200, seed: 20261123 },
    );
    expect(rendered).toBeGreaterThan(200);
  });
});

describe('LaTeX groups what the index form groups', () => {
  it('a remainder and a quotient of n − 1: ((n − 1) mod 2) and ⌊(n − 1)/2⌋, not n − (1 mod 2) and ⌊n − ½⌋', () => {
    const g = derive('dims N\nX: [N]\nY: [N/2]\nY[u] = X[2*u+1]').gradients.X!;
    expect(g.index).toContain('((n-1)%2 == 0)*dY[(n-1)/2]');
    expect(g.latex).toContain('\\left(\\left(n - 1\\right) \\bmod 2\\right)');
    expect(g.latex).toContain('\\left\\lfloor \\left(n - 1\\right) / 2 \\right\\rfloor');
  });
  it('a divisor that is a product of sizes is grouped: mod (A B), not mod A · B', () => {
    const g = derive('dims A=2, B=2\nX: [A, A, A]\nY1: [A, A, A]\nY1[i,j,k] = X[j*B+i-1,i*A,i]').gradients.X!;
    expect(g.latex).toContain('\\bmod \\left(A B\\right)');
  });
  it('a name with a digit keeps one subscript level: {dY_1}_{…}, not dY_{1}_{…} (a double subscript)', () => {
    const g = derive('dims A=2\nX: [A]\nY1[i] = X[i]*2').gradients.X!;
    expect(g.latex).toContain('{\\mathrm{d}Y_{1}}_{i}');
    expect(() => renders(g.latex)).not.toThrow();
  });
});
