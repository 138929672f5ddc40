// npm run example:cnn-mnist — a small CNN (two 3×3 convolutions with ReLU and 2×2 max pooling, then
// an affine layer and softmax cross-entropy) trained with mini-batch SGD with momentum on the MNIST
// digits of the `mnist` package; all the math runs in deltagrad's generated kernels.
// Flags: --epochs --batch --lr --save FILE --load FILE --threads N (see --help); with --threads N the
// network runs as one compile()d program on N worker threads (examples/models/compiled.ts).
import { runDigitsExample } from './lib/run.js';
import { createCnn } from './models/cnn.js';
import { cnnProgram, compiledModel } from './models/compiled.js';

await runDigitsExample({
  name: 'cnn-mnist',
  title: 'CNN on MNIST digits (deltagrad generated kernels)',
  description: [
    'cnn-mnist: conv(1→8, 3×3, pad 1) → ReLU → maxpool 2 → conv(8→16, 3×3, pad 1) → ReLU → maxpool 2 → affine → softmax cross-entropy',
    'layers (generated/): conv2d, relu, maxpool2d, affine, softmaxCrossEntropy; update: sgdMomentum',
  ],
  defaults: { epochs: 5, batch: 32, lr: 0.04 },
  lrDecay: 0.6,
  optimizer: 'momentum',
  momentum: 0.9,
  shift: 1,
  createModel: createCnn,
  // the same initial weights (drawn by createCnn), the network compiled as one program
  createThreadedModel: (rand, threads) => {
    const { params } = createCnn(rand);
    return compiledModel({ name: 'cnn-mnist', params, classes: 10, program: cnnProgram({ image: 28, f1: 8, f2: 16, classes: 10 }), threads });
  },
});
