// The scalar derivative table comes from mathjs: recompute it and compare, so it can never drift.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rulesModule } from '../../scripts/generateRules.js';
import { checkGradients } from '../helpers.js';

describe('scalar derivative rules', () => {
  it('src/diff/scalarDerivatives.ts is what mathjs derivative gives (npm run rules)', () => {
    const stored = readFileSync(new URL('../../src/diff/scalarDerivatives.ts', import.meta.url), 'utf8');
    expect(stored).toBe(rulesModule());
  });
  it('each rule agrees with central differences', () => {
    const src = 'dims N\nX: [N]\nZ: [N]\nY[n] = exp(X[n]) + log(X[n]) + sqrt(X[n]) + sin(X[n]) + cos(X[n]) + pow(X[n], Z[n]) + X[n]^3';
    const { errors } = checkGradients(src, { N: 5 }, { lo: 0.3, hi: 2 });
    for (const [k, e] of Object.entries(errors)) expect(e, `d${k}`).toBeLessThan(1e-6);
  });
});
