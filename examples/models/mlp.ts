// The 784→128→10 MLP: affine → ReLU → affine → softmax cross-entropy, every step a generated layer.
import { affine, l2Penalty, relu, softmaxCrossEntropy, type OperatorContext } from '../../generated/index.js';
import { gaussianArray, type Rand } from '../lib/random.js';
import type { SyncModel } from '../lib/train.js';
import type { Param } from '../lib/weights.js';

/** weightDecay: λ of the penalty λ·(ΣW1² + ΣW2²) added to the loss (generated l2Penalty); 0 = none */
export function createMlp(rand: Rand, sizes: { input?: number; hidden?: number; classes?: number; weightDecay?: number } = {}): SyncModel {
  const lam = sizes.weightDecay ?? 0;
  const D = sizes.input ?? 784;
  const H = sizes.hidden ?? 128;
  const C = sizes.classes ?? 10;
  // He initialisation for the ReLU layer, Xavier-like for the scores; biases start at 0
  const params: Param[] = [
    { name: 'W1', shape: [H, D], data: gaussianArray(H * D, Math.sqrt(2 / D), rand) },
    { name: 'b1', shape: [H], data: new Float64Array(H) },
    { name: 'W2', shape: [C, H], data: gaussianArray(C * H, Math.sqrt(1 / H), rand) },
    { name: 'b2', shape: [C], data: new Float64Array(C) },
  ];
  const [W1, b1, W2, b2] = params.map((p) => p.data) as [Float64Array, Float64Array, Float64Array, Float64Array];
  const c1: OperatorContext = {};
  const c2: OperatorContext = {};
  const c3: OperatorContext = {};
  const c4: OperatorContext = {};
  const r1: OperatorContext = {};
  const r2: OperatorContext = {};

  const forward = (X: Float64Array, N: number) => {
    const { Y: h } = affine.forward(c1, { X, W: W1, b: b1 }, { N, D, F: H });
    const { Y: a } = relu.forward(c2, { X: h }, { N, D: H });
    const { Y: S } = affine.forward(c3, { X: a, W: W2, b: b2 }, { N, D: H, F: C });
    return S;
  };

  return {
    name: 'mlp-mnist',
    params,
    classes: C,
    scores: forward,
    step(X, Yt, N) {
      const S = forward(X, N);
      const { L } = softmaxCrossEntropy.forward(c4, { S, Yt }, { N, C });
      const { dS } = softmaxCrossEntropy.backward(c4);
      const { dX: da, dW: dW2, db: db2 } = affine.backward(c3, { dY: dS });
      const { dX: dh } = relu.backward(c2, { dY: da });
      const { dW: dW1, db: db1 } = affine.backward(c1, { dY: dh }, { wrt: ['W', 'b'] });
      if (!lam) return { loss: L[0]!, scores: S, grads: [dW1, db1, dW2, db2] };
      // the penalty and its gradient 2λW, at the same weights; SGD applies the two parts in turn
      const p1 = l2Penalty.forward(r1, { W: W1, lam }, { D: W1.length }).L[0]!;
      const p2 = l2Penalty.forward(r2, { W: W2, lam }, { D: W2.length }).L[0]!;
      const { dW: dP1 } = l2Penalty.backward(r1);
      const { dW: dP2 } = l2Penalty.backward(r2);
      return { loss: L[0]! + p1 + p2, scores: S, grads: [[dW1, dP1], db1, [dW2, dP2], db2] };
    },
  };
}
