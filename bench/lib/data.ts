// data: the same numbers for every implementation.
//
// Values are drawn from a seeded generator and rounded to float32 first, so the Float64Array given to
// a float64 kernel and the Float32Array given to a float32 kernel or to TF.js hold identical values.
// Layout helpers convert deltagrad's NCHW / [F,C,R,S] tensors to TF.js's NHWC / [R,S,C,F] and back.

/** mulberry32: a small seeded generator, uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Data {
  readonly f64: Float64Array;
  readonly f32: Float32Array;
  readonly shape: readonly number[];
}

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Uniform values in [lo, hi), identical in both precisions. */
export function uniform(seed: number, shape: readonly number[], lo = -1, hi = 1): Data {
  const r = rng(seed);
  const f32 = new Float32Array(count(shape));
  for (let i = 0; i < f32.length; i++) f32[i] = lo + (hi - lo) * r();
  return { f32, f64: Float64Array.from(f32), shape };
}

/** One-hot rows [n, classes] with seeded labels. */
export function oneHot(seed: number, n: number, classes: number): Data & { labels: Int32Array } {
  const r = rng(seed);
  const labels = new Int32Array(n);
  const f32 = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    labels[i] = Math.floor(r() * classes);
    f32[i * classes + labels[i]!] = 1;
  }
  return { f32, f64: Float64Array.from(f32), shape: [n, classes], labels };
}

export const fromValues = (v: ArrayLike<number>, shape: readonly number[]): Data => {
  const f32 = Float32Array.from(v);
  return { f32, f64: Float64Array.from(f32), shape };
};

/** Permute the axes of a dense row-major array: out axis a is input axis perm[a]. */
export function permute(x: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float32Array {
  const nd = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = new Array<number>(nd);
  let acc = 1;
  for (let a = nd - 1; a >= 0; a--) {
    inStrides[a] = acc;
    acc *= shape[a]!;
  }
  const strideOfOut = perm.map((p) => inStrides[p]!);
  const out = new Float32Array(acc);
  const idx = new Array<number>(nd).fill(0);
  for (let o = 0; o < acc; o++) {
    let src = 0;
    for (let a = 0; a < nd; a++) src += idx[a]! * strideOfOut[a]!;
    out[o] = x[src]!;
    for (let a = nd - 1; a >= 0; a--) {
      if (++idx[a]! < outShape[a]!) break;
      idx[a] = 0;
    }
  }
  return out;
}

/** NCHW → NHWC */
export const toNHWC = (x: ArrayLike<number>, [n, c, h, w]: readonly number[]) => permute(x, [n!, c!, h!, w!], [0, 2, 3, 1]);
/** NHWC → NCHW (shape given in NCHW order) */
export const fromNHWC = (x: ArrayLike<number>, [n, c, h, w]: readonly number[]) => permute(x, [n!, h!, w!, c!], [0, 3, 1, 2]);
/** [F,C,R,S] → [R,S,C,F] (TF.js filter layout) */
export const toRSCF = (k: ArrayLike<number>, [f, c, r, s]: readonly number[]) => permute(k, [f!, c!, r!, s!], [2, 3, 1, 0]);
/** [R,S,C,F] → [F,C,R,S] (shape given in FCRS order) */
export const fromRSCF = (k: ArrayLike<number>, [f, c, r, s]: readonly number[]) => permute(k, [r!, s!, c!, f!], [3, 2, 0, 1]);

/** max |a − ref| / max |ref| — the error of an implementation's output against the float64 reference. */
export function relError(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(a[i]! - ref[i]!);
    if (Number.isNaN(d)) num = Infinity;
    else if (d > num) num = d;
    den = Math.max(den, Math.abs(ref[i]!));
  }
  return den === 0 ? num : num / den;
}
