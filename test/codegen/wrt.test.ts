// compile and emit with `wrt` (issue 15, item 9): only the gradients a caller needs, and the
// intermediates' gradients they need — an MLP training step does no work for dX or the labels.
import { describe, expect, it } from 'vitest';
import { compile, emit } from '../../src/index.js';
import { check } from '../../src/ir/check.js';
import { numericGradient, relativeError, seededRandom } from '../../src/ir/gradcheck.js';

const MLP = `dims N, D, H, C
X: [N, D]
W1: [H, D]
b1: [H]
W2: [C, H]
b2: [C]
Yt: [N, C]
Hd[n,h] = relu(W1[h,d]*X[n,d] + b1[h])
S[n,c] = W2[c,h]*Hd[n,h] + b2[c]
L = sum(n) (logsumexp(c) S[n,c] - sum(c) Yt[n,c]*S[n,c]) / N
`;
const WEIGHTS = ['W1', 'b1', 'W2', 'b2'];
const sizes = { N: 3, D: 5, H: 4, C: 3 };

describe('wrt: the gradients a caller asks for, and no others', () => {
  it('the emitted module of an MLP step with wrt its weights has no kernel for dX or dYt', () => {
    const all = emit(MLP, { sizes });
    const some = emit(MLP, { sizes, wrt: WEIGHTS });
    for (const g of ['dX', 'dYt']) {
      expect(all).toContain(`function backward_${g}(`);
      expect(some).not.toContain(`function backward_${g}(`);
    }
    for (const w of WEIGHTS) expect(some).toContain(`function backward_d${w}(`);
    // the intermediates' gradients the weights need stay (dS, dHd), as kernels of their own
    expect(some).toContain('function backward_dS(');
  });

  it('backward returns just those gradients, equal to the full backward’s and to central differences', () => {
    const rand = seededRandom(7);
    const make = (n: number) => Float64Array.from({ length: n }, () => rand() * 2 - 1);
    const inputs = { X: make(15), W1: make(20), b1: make(4), W2: make(12), b2: make(3), Yt: Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1) };
    const full = compile(MLP, { sizes }).backward(inputs);
    const mine = compile(MLP, { sizes, wrt: WEIGHTS }).backward(inputs);
    expect(Object.keys(mine).sort()).toEqual(WEIGHTS.map((w) => `d${w}`).sort());
    const p = check(MLP);
    for (const w of WEIGHTS) {
      expect(Array.from(mine[`d${w}`]!)).toEqual(Array.from(full[`d${w}`]!));
      const numeric = numericGradient(p, inputs, {}, w, { sizes });
      expect(relativeError(mine[`d${w}`]!, numeric), w).toBeLessThan(1e-6);
    }
  });

  it('an unknown or non-input name in wrt is an error that names it', () => {
    expect(() => compile(MLP, { sizes, wrt: ['Hd'] })).toThrow(/Hd is not an input of the program \(it is an intermediate\)/);
    expect(() => compile(MLP, { sizes, wrt: 'W1' as never })).toThrow("compile: wrt must be an array of input names, e.g. ['W', 'b'], got 'W1'");
  });
});
