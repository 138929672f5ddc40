// Every layer, loss and network of the seed tutorials, and the layer zoo: the derived gradients are
// snapshot-tested in index, matrix and LaTeX form, and every one of them is checked against central
// differences.
import { describe, expect, it } from 'vitest';
import { check, derive } from '../../src/index.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { verifyProgram } from '../../src/ir/verify.js';
import { checkGradients, layer } from '../helpers.js';

const TOLERANCE = 1e-6;

const LAYERS: { name: string; sizes: Record<string, number>; lo?: number; hi?: number }[] = [
  { name: 'affine_left', sizes: { M: 3, P: 4, N: 2 } },
  { name: 'affine_right', sizes: { M: 3, P: 4, N: 2 } },
  { name: 'affine', sizes: { N: 3, D: 5, F: 4 } },
  { name: 'relu', sizes: { N: 3, D: 4 } },
  { name: 'affine_relu', sizes: { N: 3, D: 5, F: 4 } },
  { name: 'sigmoid', sizes: { N: 3, D: 4 } },
  { name: 'tanh', sizes: { N: 3, D: 4 } },
  { name: 'elu', sizes: { N: 3, D: 4 } },
  { name: 'maxout', sizes: { N: 3, D: 4, K: 2, T: 3 } },
  { name: 'conv2d', sizes: { N: 2, C: 2, H: 5, W: 4, F: 3 } },
  { name: 'conv2d_s2p1', sizes: { N: 2, C: 2, H: 7, W: 6, F: 2 } },
  { name: 'maxpool2d', sizes: { N: 2, C: 2, H: 5, W: 4 } },
  { name: 'avgpool2d', sizes: { N: 2, C: 2, H: 5, W: 4 } },
  { name: 'square_error', sizes: { N: 5 } },
  { name: 'logistic01', sizes: { N: 5 }, lo: 0.05, hi: 0.95 },
  { name: 'logistic_pm1', sizes: { N: 5 } },
  { name: 'softmax_xent', sizes: { N: 3, C: 4 } },
  { name: 'svm_hinge', sizes: { N: 3, C: 4 } },
  { name: 'two_layer_svm', sizes: { N: 4, D: 3, H: 5, C: 3 } },
  { name: 'chain_rule', sizes: {} },
  { name: 'sigmoid_neuron', sizes: {} },
  // the layer zoo (bench/groups/zoo.ts): the gradients the planner rewrites (src/plan/), run as the
  // program derive prints — intermediates, temporaries and all
  { name: 'conv_transpose2d', sizes: { N: 2, C: 2, H: 3, W: 4, F: 2 } },
  { name: 'depthwise_conv2d', sizes: { N: 2, C: 2, H: 4, W: 5 } },
  { name: 'grouped_conv2d', sizes: { N: 2, G: 2, CG: 2, FG: 2, H: 4, W: 3 } },
  { name: 'dilated_conv2d', sizes: { N: 2, C: 2, H: 6, W: 5, F: 2 } },
  { name: 'conv1d', sizes: { N: 2, C: 2, L: 7, F: 3 } },
  { name: 'attention', sizes: { H: 2, T: 4, E: 3 } },
  { name: 'layer_norm', sizes: { N: 3, D: 4 } },
  { name: 'batch_norm', sizes: { N: 4, C: 3 } },
  { name: 'log_softmax', sizes: { N: 3, C: 4 } },
  { name: 'gru_cell', sizes: { N: 2, D: 3, M: 4 } },
  { name: 'matrix_chain', sizes: { I: 2, J: 3, K: 4, L: 5 } },
  { name: 'least_squares', sizes: { I: 2, J: 3, K: 4, M: 5 } },
];

describe('seed layers', () => {
  for (const l of LAYERS) {
    describe(l.name, () => {
      const source = layer(l.name);
      it('derives the snapshot forms', () => {
        const r = derive(source);
        expect(r.gradients).toMatchSnapshot();
      });
      it('keeps the IR invariants: indices bound with extents, ranks right, no δ left', () => {
        const p = check(source);
        const grads = differentiate(p, { unitScalarSeeds: false });
        expect(verifyProgram(p, grads.map((g) => g.statement))).toEqual([]);
      });
      it('agrees with central differences', () => {
        const { errors, magnitudes } = checkGradients(source, l.sizes, { lo: l.lo ?? -1, hi: l.hi ?? 1 });
        for (const [name, err] of Object.entries(errors)) {
          expect(err, `d${name}`).toBeLessThan(TOLERANCE);
          expect(magnitudes[name], `d${name} is not all zero`).toBeGreaterThan(0);
        }
      });
    });
  }
});

describe('convolution at every stride and padding the seeds discuss', () => {
  for (const T of [1, 2, 3])
    for (const P of [0, 1, 2])
      it(`stride ${T}, padding ${P}`, () => {
        const { errors } = checkGradients(layer('conv2d'), { N: 2, C: 2, H: 7, W: 6, F: 2, T, P });
        for (const [name, err] of Object.entries(errors)) expect(err, `d${name}`).toBeLessThan(TOLERANCE);
      });
});

describe('matrix forms the seeds write by hand', () => {
  const matrix = (name: string, wrt: string) => derive(layer(name)).gradients[wrt]!.matrix;
  it('Y = AX + B gives dX = Aᵀ·dY and Y = XA + B gives dX = dY·Aᵀ (seed 000)', () => {
    expect(matrix('affine_left', 'X')).toBe('dX = Aᵀ·dY');
    expect(matrix('affine_right', 'X')).toBe('dX = dY·Aᵀ');
  });
  it('the affine layer: dX = dY·W, dW = dYᵀ·X, dbᵀ = 1ᵀ·dY (seed 001)', () => {
    expect(matrix('affine', 'X')).toBe('dX = dY·W');
    expect(matrix('affine', 'W')).toBe('dW = dYᵀ·X');
    expect(matrix('affine', 'b')).toBe('dbᵀ = 1ᵀ·dY');
  });
  it('the AffineReLU mask comes from the forward value (Y > 0)', () => {
    expect(matrix('affine_relu', 'X')).toBe('dX = ((Y > 0) ⊙ dY)·W');
  });
  it('conv dX is a correlation of dY with the flipped kernel K̃', () => {
    const m = matrix('conv2d', 'X')!;
    expect(m).toContain('K̃[c,f,i,j] = K[f,c,R-1-i,S-1-j]');
    expect(m).toContain('⋆ K̃');
  });
  it('losses: φ(s) − y, p − y, 2(s − y)', () => {
    expect(matrix('logistic01', 'S')).toBe('dS = sigmoid(S) − Yt');
    expect(matrix('softmax_xent', 'S')).toBe('dS = (softmax(S) − Yt)/N');
    expect(matrix('square_error', 'S')).toBe('dS = 2·(S − Yt)');
  });
});
