// examples: the menu of programs, as data. Each entry is a program plus the state it opens with (the
// sizes of the numeric check, the point to evaluate at, the inputs to differentiate by).
//
// Worked example: picking "Chain rule: f = (x+y)·z" loads examples/layers/chain_rule.dg with the
// point x = −2, y = 5, z = −4, where the page shows f = −12 and ∇f = (−4, −4, 3) as seed 002 does.
//
// Adding an example is adding an entry here. An entry whose `requires` names a feature the library
// does not have yet (features.ts) is left out of the menu, so the matrix-notation examples below
// appear by themselves once matrix notation lands, and `hessian: true` opens one with the Hessian
// toggle on once derive accepts { order: 2 }.
/// <reference path="./programText.d.ts" />
import type { Feature } from './features.js';
import affine from '../../examples/layers/affine.dg';
import affineLeft from '../../examples/layers/affine_left.dg';
import affineRelu from '../../examples/layers/affine_relu.dg';
import affineRight from '../../examples/layers/affine_right.dg';
import avgpool2d from '../../examples/layers/avgpool2d.dg';
import chainRule from '../../examples/layers/chain_rule.dg';
import conv2d from '../../examples/layers/conv2d.dg';
import conv2dS2p1 from '../../examples/layers/conv2d_s2p1.dg';
import elu from '../../examples/layers/elu.dg';
import l2Penalty from '../../examples/layers/l2_penalty.dg';
import logistic01 from '../../examples/layers/logistic01.dg';
import logisticPm1 from '../../examples/layers/logistic_pm1.dg';
import maxout from '../../examples/layers/maxout.dg';
import maxpool2d from '../../examples/layers/maxpool2d.dg';
import relu from '../../examples/layers/relu.dg';
import sgd from '../../examples/layers/sgd.dg';
import sgdMomentum from '../../examples/layers/sgd_momentum.dg';
import sigmoid from '../../examples/layers/sigmoid.dg';
import sigmoidNeuron from '../../examples/layers/sigmoid_neuron.dg';
import softmaxXent from '../../examples/layers/softmax_xent.dg';
import squareError from '../../examples/layers/square_error.dg';
import svmHinge from '../../examples/layers/svm_hinge.dg';
import tanh from '../../examples/layers/tanh.dg';
import twoLayerSvm from '../../examples/layers/two_layer_svm.dg';

export interface Example {
  /** stable id (the menu's option value) */
  readonly id: string;
  readonly title: string;
  readonly group: string;
  readonly source: string;
  /** sizes for the numeric check where the program gives none (others default to DEFAULT_SIZE) */
  readonly sizes?: Readonly<Record<string, number>>;
  /** scalar inputs for "evaluate at a point" */
  readonly point?: Readonly<Record<string, number>>;
  /** the inputs to differentiate by (default: every input) */
  readonly wrt?: readonly string[];
  /** shown only when the library has this feature */
  readonly requires?: Feature;
  /** open with the Hessian blocks shown (needs 'second-order') */
  readonly hessian?: boolean;
}

const LAYERS = 'Layers (seeds 000, 001)';
const CONV = 'Convolution and pooling (seed 001)';
const LOSSES = 'The five losses (seed 001)';
const NETWORKS = 'Networks and training (seed 003)';
const CHAIN = 'Chain rule (seed 002)';
const MATRIX = 'Matrix notation';

export const EXAMPLES: readonly Example[] = [
  { id: 'affine-left', title: 'Y = AX + B (left multiplication)', group: LAYERS, source: affineLeft },
  { id: 'affine-right', title: 'Y = XA + B (right multiplication)', group: LAYERS, source: affineRight },
  { id: 'affine', title: 'Affine layer X·Wᵀ + 1·bᵀ', group: LAYERS, source: affine },
  { id: 'relu', title: 'ReLU', group: LAYERS, source: relu },
  { id: 'affine-relu', title: 'AffineReLU', group: LAYERS, source: affineRelu },
  { id: 'sigmoid', title: 'Sigmoid', group: LAYERS, source: sigmoid },
  { id: 'tanh', title: 'tanh', group: LAYERS, source: tanh },
  { id: 'elu', title: 'ELU', group: LAYERS, source: elu },
  { id: 'maxout', title: 'Maxout', group: LAYERS, source: maxout },
  { id: 'conv2d', title: 'Convolution, stride T, padding P', group: CONV, source: conv2d, sizes: { N: 2, C: 2, H: 5, W: 5, F: 3 } },
  { id: 'conv2d-s2p1', title: 'Convolution, stride 2, padding 1', group: CONV, source: conv2dS2p1, sizes: { N: 2, C: 2, H: 5, W: 5, F: 2 } },
  { id: 'maxpool2d', title: 'Max pooling 2×2', group: CONV, source: maxpool2d, sizes: { N: 2, C: 2, H: 4, W: 4 } },
  { id: 'avgpool2d', title: 'Mean pooling 2×2', group: CONV, source: avgpool2d, sizes: { N: 2, C: 2, H: 4, W: 4 } },
  { id: 'square-error', title: 'Square error', group: LOSSES, source: squareError },
  { id: 'logistic01', title: '0/1-logistic', group: LOSSES, source: logistic01 },
  { id: 'logistic-pm1', title: '±1-logistic', group: LOSSES, source: logisticPm1 },
  { id: 'softmax-xent', title: 'Softmax cross-entropy', group: LOSSES, source: softmaxXent },
  { id: 'svm-hinge', title: 'SVM hinge', group: LOSSES, source: svmHinge },
  { id: 'two-layer-svm', title: 'Two-layer ReLU network, SVM loss + λΣW²', group: NETWORKS, source: twoLayerSvm },
  { id: 'l2-penalty', title: 'L2 penalty λΣW²', group: NETWORKS, source: l2Penalty },
  { id: 'sgd', title: 'SGD step', group: NETWORKS, source: sgd },
  { id: 'sgd-momentum', title: 'SGD with momentum', group: NETWORKS, source: sgdMomentum },
  { id: 'chain-rule', title: 'f = (x+y)·z', group: CHAIN, source: chainRule, point: { x: -2, y: 5, z: -4 } },
  { id: 'sigmoid-neuron', title: 'Sigmoid neuron', group: CHAIN, source: sigmoidNeuron, point: { w0: 2, x0: -1, w1: -3, x1: -2, w2: -3 } },
  // matrix notation (LANGUAGE.md v2), shown once the library parses it
  {
    id: 'quadratic-form',
    title: "f = x'·A·x (Hessian A + Aᵀ)",
    group: MATRIX,
    requires: 'matrix-notation',
    hessian: true,
    source: "# A quadratic form: ∇f = (A + Aᵀ)·x, and the Hessian is A + Aᵀ\ndims N=3\nA: [N, N]\nx: [N]\nf = x'*A*x\n",
    wrt: ['x'],
  },
  {
    id: 'trace-form',
    title: "f = tr(X'·A·X)",
    group: MATRIX,
    requires: 'matrix-notation',
    source: "dims N=3, M=4\nA: [N, N]\nX: [N, M]\nf = tr(X'*A*X)\n",
  },
  {
    id: 'least-squares',
    title: 'Least squares ‖Ax − y‖²',
    group: MATRIX,
    requires: 'matrix-notation',
    source: 'dims N=3, M=4\nA: [M, N]\nx: [N]\ny: [M]\ng = norm2(A*x - y)^2\n',
    wrt: ['x'],
  },
  {
    id: 'logistic-regression',
    title: 'Logistic regression Σ log(1 + e^(−y⊙Ax))',
    group: MATRIX,
    requires: 'matrix-notation',
    source: 'dims N=3, M=4\nA: [M, N]\nx: [N]\ny: [M]\ng = sum(log(1 + exp(-y .* (A*x))))\n',
    wrt: ['x'],
  },
  {
    id: 'logdet',
    title: 'log det A + tr(A⁻¹·X)',
    group: MATRIX,
    requires: 'matrix-notation',
    source: 'dims N=3\nA: [N, N]\nX: [N, N]\nf = logdet(A) + tr(inv(A)*X)\n',
    wrt: ['A'],
  },
];

/** The example the page opens with when its link carries no program. */
export const DEFAULT_EXAMPLE = EXAMPLES[0]!;

/** The examples the library can run, in menu order, grouped. */
export function availableExamples(has: (f: Feature) => boolean): { group: string; examples: Example[] }[] {
  const groups: { group: string; examples: Example[] }[] = [];
  for (const e of EXAMPLES) {
    if (e.requires && !has(e.requires)) continue;
    let g = groups.find((x) => x.group === e.group);
    if (!g) groups.push((g = { group: e.group, examples: [] }));
    g.examples.push(e);
  }
  return groups;
}
