// The small CNN: conv(1→8, 3×3, pad 1) → ReLU → maxpool 2 → conv(8→16, 3×3, pad 1) → ReLU →
// maxpool 2 → affine(16·7·7 → 10) → softmax cross-entropy. Every step is a generated layer; relu is
// 2-D [N, D], so it runs on a conv output [N, F, H, W] as D = F·H·W (row-major reshapes are free).
import { affine, conv2d, maxpool2d, relu, softmaxCrossEntropy, type OperatorContext } from '../../generated/index.js';
import { gaussianArray, type Rand } from '../lib/random.js';
import type { SyncModel } from '../lib/train.js';
import type { Param } from '../lib/weights.js';

export function createCnn(rand: Rand, sizes: { image?: number; f1?: number; f2?: number; classes?: number } = {}): SyncModel {
  const S0 = sizes.image ?? 28;
  const F1 = sizes.f1 ?? 8;
  const F2 = sizes.f2 ?? 16;
  const C = sizes.classes ?? 10;
  const S1 = S0 / 2; // after the first pooling
  const S2 = S1 / 2; // after the second
  if (!Number.isInteger(S2)) throw new Error(`the image size must be a multiple of 4, got ${S0}`);
  const D3 = F2 * S2 * S2;
  const params: Param[] = [
    { name: 'K1', shape: [F1, 1, 3, 3], data: gaussianArray(F1 * 9, Math.sqrt(2 / 9), rand) },
    { name: 'b1', shape: [F1], data: new Float64Array(F1) },
    { name: 'K2', shape: [F2, F1, 3, 3], data: gaussianArray(F2 * F1 * 9, Math.sqrt(2 / (F1 * 9)), rand) },
    { name: 'b2', shape: [F2], data: new Float64Array(F2) },
    { name: 'W3', shape: [C, D3], data: gaussianArray(C * D3, Math.sqrt(1 / D3), rand) },
    { name: 'b3', shape: [C], data: new Float64Array(C) },
  ];
  const [K1, b1, K2, b2, W3, b3] = params.map((p) => p.data) as Float64Array[] as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const ctx = Array.from({ length: 8 }, (): OperatorContext => ({}));
  const [cConv1, cRelu1, cPool1, cConv2, cRelu2, cPool2, cAffine, cLoss] = ctx as [OperatorContext, OperatorContext, OperatorContext, OperatorContext, OperatorContext, OperatorContext, OperatorContext, OperatorContext];

  const forward = (X: Float64Array, N: number) => {
    const { Y: z1 } = conv2d.forward(cConv1, { X, K: K1, b: b1 }, { N, C: 1, H: S0, W: S0, F: F1, P: 1 });
    const { Y: a1 } = relu.forward(cRelu1, { X: z1 }, { N, D: F1 * S0 * S0 });
    const { Y: p1 } = maxpool2d.forward(cPool1, { X: a1 }, { N, C: F1, H: S0, W: S0 });
    const { Y: z2 } = conv2d.forward(cConv2, { X: p1, K: K2, b: b2 }, { N, C: F1, H: S1, W: S1, F: F2, P: 1 });
    const { Y: a2 } = relu.forward(cRelu2, { X: z2 }, { N, D: F2 * S1 * S1 });
    const { Y: p2 } = maxpool2d.forward(cPool2, { X: a2 }, { N, C: F2, H: S1, W: S1 });
    const { Y: S } = affine.forward(cAffine, { X: p2, W: W3, b: b3 }, { N, D: D3, F: C });
    return S;
  };

  return {
    name: 'cnn-mnist',
    params,
    classes: C,
    scores: forward,
    step(X, Yt, N) {
      const S = forward(X, N);
      const { L } = softmaxCrossEntropy.forward(cLoss, { S, Yt }, { N, C });
      const { dS } = softmaxCrossEntropy.backward(cLoss);
      const { dX: dp2, dW: dW3, db: db3 } = affine.backward(cAffine, { dY: dS });
      const { dX: da2 } = maxpool2d.backward(cPool2, { dY: dp2 });
      const { dX: dz2 } = relu.backward(cRelu2, { dY: da2 });
      const { dX: dp1, dK: dK2, db: db2 } = conv2d.backward(cConv2, { dY: dz2 });
      const { dX: da1 } = maxpool2d.backward(cPool1, { dY: dp1 });
      const { dX: dz1 } = relu.backward(cRelu1, { dY: da1 });
      const { dK: dK1, db: db1 } = conv2d.backward(cConv1, { dY: dz1 }, { wrt: ['K', 'b'] }); // the images need no gradient
      return { loss: L[0]!, scores: S, grads: [dK1, db1, dK2, db2, dW3, db3] };
    },
  };
}
