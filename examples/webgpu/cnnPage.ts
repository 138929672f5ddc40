// The page of `npm run example:cnn-mnist-webgpu` (bundled and served by examples/cnn-mnist-webgpu.ts):
// it fetches the digits and the run's settings, trains the CNN on the page's WebGPU device
// (examples/models/cnnWebgpu.ts) as the CPU example does — shuffled mini-batches, images shifted by
// up to a pixel, SGD with momentum 0.9, the learning rate ×0.6 per epoch — and reports each epoch's
// mean loss and held-out accuracy on the console; `globalThis.result` holds them at the end.
import { requestGpuDevice } from '../../src/index.js';
import { makeRand, shuffle } from '../lib/random.js';
import { createGpuCnn, type CnnSources } from '../models/cnnWebgpu.js';

interface Settings {
  epochs: number;
  batch: number;
  lr: number;
  lrDecay: number;
  seed: number;
  train: number;
  test: number;
  sources: CnnSources;
}

const SIZE = 28;
const PIXELS = SIZE * SIZE;

/** up to one pixel each way, filled with 0 (as examples/lib/data.ts shiftImages) */
function shift(img: Float32Array, rand: () => number, tmp: Float32Array): void {
  const dx = Math.floor(rand() * 3) - 1;
  const dy = Math.floor(rand() * 3) - 1;
  if (dx === 0 && dy === 0) return;
  tmp.fill(0);
  for (let r = Math.max(0, dy); r < Math.min(SIZE, SIZE + dy); r++)
    for (let c = Math.max(0, dx); c < Math.min(SIZE, SIZE + dx); c++) tmp[r * SIZE + c] = img[(r - dy) * SIZE + (c - dx)]!;
  img.set(tmp);
}

async function main(): Promise<unknown> {
  const s = (await (await fetch('/settings.json')).json()) as Settings;
  const bytes = await (await fetch('/digits.bin')).arrayBuffer();
  const n = s.train + s.test;
  const images = new Float32Array(bytes, 0, n * PIXELS);
  const labels = new Int32Array(bytes, n * PIXELS * 4, n);
  const rand = makeRand(s.seed * 7919 + 17);
  const device = await requestGpuDevice();
  const t0 = performance.now();
  const cnn = await createGpuCnn(device, s.sources, { batch: s.batch }, rand);
  console.log(`pipelines ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const x = new Float32Array(s.batch * PIXELS);
  const onehot = new Float32Array(s.batch * 10);
  const tmp = new Float32Array(PIXELS);
  const accuracy = async (): Promise<number> => {
    let correct = 0;
    for (let from = 0; from < s.test; from += s.batch) {
      const count = Math.min(s.batch, s.test - from);
      x.fill(0);
      x.set(images.subarray((s.train + from) * PIXELS, (s.train + from + count) * PIXELS));
      const scores = await cnn.scores(x);
      for (let k = 0; k < count; k++) {
        let best = 0;
        for (let c = 1; c < 10; c++) if (scores[k * 10 + c]! > scores[k * 10 + best]!) best = c;
        if (best === labels[s.train + from + k]) correct++;
      }
    }
    return (100 * correct) / s.test;
  };
  const epochs: { epoch: number; loss: number; testAccuracy: number; seconds: number }[] = [];
  let lr = s.lr;
  const order = Int32Array.from({ length: s.train }, (_, i) => i);
  for (let epoch = 1; epoch <= s.epochs; epoch++) {
    const start = performance.now();
    shuffle(order, rand);
    let sum = 0;
    const steps = Math.floor(s.train / s.batch);
    for (let b = 0; b < steps; b++) {
      onehot.fill(0);
      for (let k = 0; k < s.batch; k++) {
        const i = order[b * s.batch + k]!;
        const img = x.subarray(k * PIXELS, (k + 1) * PIXELS);
        img.set(images.subarray(i * PIXELS, (i + 1) * PIXELS));
        shift(img, rand, tmp);
        onehot[k * 10 + labels[i]!] = 1;
      }
      sum += await cnn.step(x, onehot, lr);
    }
    const testAccuracy = await accuracy();
    const seconds = (performance.now() - start) / 1000;
    epochs.push({ epoch, loss: sum / steps, testAccuracy, seconds });
    console.log(`epoch ${epoch}: loss ${(sum / steps).toFixed(4)}, held-out accuracy ${testAccuracy.toFixed(2)}%, ${seconds.toFixed(1)} s, lr ${lr.toPrecision(3)}`);
    lr *= s.lrDecay;
  }
  return { epochs };
}

main().then(
  (r) => Object.assign(globalThis, { result: r }),
  (e: unknown) => Object.assign(globalThis, { result: { error: String((e as Error)?.stack ?? e) } }),
);
