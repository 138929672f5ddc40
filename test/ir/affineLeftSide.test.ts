// An affine left-side subscript (issue 16): Y[n, g*Fg+f, u, v] = … (grouped convolution) is taken as
// Y[n, o, u, v] = sum(g, f) (o == g*Fg+f) * (…) — values against a direct loop, gradients by central
// differences, the kernels against the interpreter, and located errors.
import { describe, expect, it } from 'vitest';
import { check, compile, derive, evaluate } from '../../src/index.js';
import { randomInputs, relativeError, seededRandom } from '../../src/ir/gradcheck.js';
import { formatError } from '../../src/ir/errors.js';
import { checkGradients, errorOf } from '../helpers.js';

const GROUPED =
  'dims N=2, G=2, Fg=2, Cg=3, H=5, W=4, R=3, S=2\nX: [N, G*Cg, H, W]\nK: [G, Fg, Cg, R, S]\nY: [N, G*Fg, H-R+1, W-S+1]\n' +
  'Y[n, g*Fg+f, u, v] = K[g,f,c,i,j] * X[n, g*Cg+c, u+i, v+j]';

describe('grouped convolution with an affine left side', () => {
  it('computes what a direct loop over the groups does', () => {
    const [N, G, Fg, Cg, H, W, R, S] = [2, 2, 2, 3, 5, 4, 3, 2];
    const inputs = randomInputs(check(GROUPED), {}, seededRandom(3), -1, 1);
    const { X, K } = inputs as { X: Float64Array; K: Float64Array };
    const [Ho, Wo] = [H - R + 1, W - S + 1];
    const want = new Float64Array(N * G * Fg * Ho * Wo);
    for (let n = 0; n < N; n++)
      for (let g = 0; g < G; g++)
        for (let f = 0; f < Fg; f++)
          for (let u = 0; u < Ho; u++)
            for (let v = 0; v < Wo; v++) {
              let s = 0;
              for (let c = 0; c < Cg; c++)
                for (let i = 0; i < R; i++)
                  for (let j = 0; j < S; j++) s += K[((((g * Fg + f) * Cg + c) * R + i) * S + j)]! * X[((n * G * Cg + g * Cg + c) * H + u + i) * W + v + j]!;
              want[((n * G * Fg + g * Fg + f) * Ho + u) * Wo + v] = s;
            }
    expect(relativeError(evaluate(GROUPED, inputs).Y!, want)).toBeLessThan(1e-14);
    expect(relativeError(compile(GROUPED).forward(inputs).Y!, want)).toBeLessThan(1e-14);
  });
  it('its gradients agree with central differences, and dK reads dY at the group’s channel', () => {
    const r = checkGradients(GROUPED, {}, { seed: 4 });
    for (const [n, e] of Object.entries(r.errors)) expect(e, n).toBeLessThan(1e-6);
    for (const [n, m] of Object.entries(r.magnitudes)) expect(m, n).toBeGreaterThan(0.05);
    expect(derive(GROUPED).gradients.K!.index).toBe('dK[g,f,c,i,j] = sum(n,u,v) X[n,g*Cg+c,u+i,v+j]*dY[n,g*Fg+f,u,v]');
  });
  it('the kernels compute the gradients the interpreter does', () => {
    const inputs = randomInputs(check(GROUPED), {}, seededRandom(5), -1, 1);
    const dY = Float64Array.from({ length: 2 * 4 * 3 * 3 }, (_, k) => Math.sin(k));
    const ref = evaluate(derive(GROUPED).program, { ...inputs, dY });
    const b = compile(GROUPED).backward(inputs, { dY });
    for (const n of ['dX', 'dK']) expect(relativeError(b[n]!, ref[n]!), n).toBeLessThan(1e-13);
  });
  it('a shifted left side, Y[i+1] = X[i]: the element no i reaches is 0', () => {
    const src = 'dims N=3\nX: [N]\nY: [N+1]\nY[i+1] = 2*X[i]';
    expect([...evaluate(src, { X: [1, 2, 3] }).Y!]).toEqual([0, 2, 4, 6]);
    expect(derive(src).gradients.X!.index).toBe('dX[i] = 2*dY[i+1]');
  });
});

describe('errors', () => {
  it('an undeclared left side with an expression: declare it (located, with a hint)', () => {
    const src = 'dims G=2, F=3\nW: [G, F]\nY[g*F+f] = W[g,f]';
    const e = errorOf(() => check(src));
    expect(e.message).toMatch(/bad left side: the left side of Y has an expression, and Y is not declared \(at 3:6\)/);
    const shown = formatError(e, src);
    expect(shown).toContain('3 | Y[g*F+f] = W[g,f]\n    |      ^');
    expect(shown).toMatch(/hint: declare Y with its shape/);
  });
  it('an index twice on the left side', () => {
    expect(errorOf(() => check('dims G=2, F=3\nW: [G, F]\nY: [G, G*F]\nY[g, g*F+f] = W[g,f]')).message).toMatch(/index g appears twice on the left side of Y/);
  });
});
