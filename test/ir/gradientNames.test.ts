// The gradient of W is named dW (LANGUAGE.md). A program with its own tensor dW used to read that
// tensor where the gradient was meant — `Wnew[i] = W[i] - lr*dW[i]` gave dlr = −Σ dWnew·(the gradient
// of W), and compiled kernels returned wrong numbers without an error. Now it is a name error.
import { describe, expect, it } from 'vitest';
import { errorOf as errorOfCall } from '../helpers.js';
import { check, derive } from '../../src/index.js';
import { main } from '../../src/cli.js';

const errorOf = (source: string) => errorOfCall(() => derive(source));

describe('a tensor named like a gradient is a name error', () => {
  const cases = [
    ['an input dW beside W (an SGD step given its gradient)', 'Wnew[i] = W[i] - lr*dW[i]', 'dW', 'W'],
    ['an input dY beside the output Y', 'dims N\nX: [N]\ndY: [N]\nY[i] = X[i] * dY[i]', 'dY', 'Y'],
    ['an output dX beside the input X', 'dims N\nX: [N]\ndX[i] = 2*X[i]', 'dX', 'X'],
  ] as const;
  for (const [label, source, grad, of] of cases)
    it(label, () => {
      const e = errorOf(source);
      expect(e.message).toContain(`${grad} is the name of the gradient of ${of}`);
      expect(e.hint).toMatch(/rename the tensor/);
      expect(e.span).toBeDefined();
    });

  it('through the CLI: exit 1, line:col and a caret under the tensor', async () => {
    let err = '';
    const code = await main(['-e', 'Wnew[i] = W[i] - lr*dW[i]'], { out: () => {}, err: (s) => (err += s + '\n') });
    expect(code).toBe(1);
    expect(err).toContain('<program>:1:21:');
    expect(err).toMatch(/\|\s{21}\^\^/);
  });

  it('names that only start with d are fine when no tensor is named by the rest (dense, d2, dw beside W)', () => {
    expect(() => derive('dims N\ndense: [N]\nW: [N]\ndw: [N]\nY[i] = dense[i] + W[i]*dw[i]')).not.toThrow();
  });

  it('a derived program, which holds X and dX, checks; only differentiating it again would clash', () => {
    const program = 'dims N\nX: [N]\nY[i] = 2*X[i]';
    const whole = derive(program, { wrt: ['X'] });
    expect(whole.gradients.X!.index).toBe('dX[i] = 2*dY[i]');
    const back = 'dims N\nX: [N]\ndY: [N]\nY[i] = 2*X[i]\ndX[i] = 2*dY[i]';
    expect(() => check(back)).not.toThrow();
    expect(() => derive(back)).toThrow(/dY is the name of the gradient of Y|dX is the name of the gradient of X/);
  });

  it('a tensor named like the gradient of a tensor that is not differentiated is fine (--wrt elsewhere)', () => {
    const r = derive('dims N\nW: [N]\ndW: [N]\nV: [N]\nY[i] = W[i]*dW[i] + V[i]', { wrt: ['V'] });
    expect(r.gradients.V!.index).toBe('dV[i] = dY[i]');
    expect(() => derive('dims N\nW: [N]\ndW: [N]\nV: [N]\nY[i] = W[i]*dW[i] + V[i]')).toThrow(/dW is the name of the gradient of W/);
  });
});
