// linalg: det, log|det| and the inverse of a square matrix from one LU factorisation with partial
// pivoting — the interpreter's matrix functions (the kernels run the same steps, in the same order,
// from src/target/linalgHelper.ts, so both give the same numbers).
//
// Worked example: A = [[0, 2], [1, 3]] (row-major). Column 0's largest entry is in row 1: swap rows
// (sign −1), U = [[1, 3], [0, 2]], L = [[1, 0], [0, 1]]; det A = −1·1·2 = −2, logdet A = log 2,
// A⁻¹ = [[−1.5, 1], [0.5, 0]]. A pivot no larger than n·ε·max|Aᵢⱼ| makes the matrix singular:
// det is then the product as computed (0 for an exact zero pivot), inv and logdet an error.
import type { MatrixFn } from './types.js';

/** A matrix the inverse or log-determinant of which was asked for, and that has none. */
export class SingularMatrixError extends Error {
  override readonly name = 'SingularMatrixError';
}

const EPSILON = 2.220446049250313e-16;

interface Factored {
  /** L (below the diagonal, unit diagonal implied) and U, row-major, rows permuted */
  readonly lu: Float64Array;
  /** row k was swapped with row piv[k] at step k */
  readonly piv: Int32Array;
  readonly sign: number;
  /** the first column whose pivot is too small, or −1 */
  readonly singularAt: number;
}

function factor(a: ArrayLike<number>, n: number): Factored {
  const m = Float64Array.from({ length: n * n }, (_, i) => a[i]!);
  const piv = new Int32Array(n);
  let sign = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(m[i]!));
  const tiny = n * EPSILON * scale;
  let singularAt = -1;
  for (let k = 0; k < n; k++) {
    let p = k;
    let best = Math.abs(m[k * n + k]!);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(m[i * n + k]!);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    piv[k] = p;
    if (p !== k) {
      sign = -sign;
      for (let j = 0; j < n; j++) {
        const t = m[k * n + j]!;
        m[k * n + j] = m[p * n + j]!;
        m[p * n + j] = t;
      }
    }
    const d = m[k * n + k]!;
    if (!(Math.abs(d) > tiny) && singularAt < 0) singularAt = k;
    if (d === 0) continue;
    for (let i = k + 1; i < n; i++) {
      const f = m[i * n + k]! / d;
      m[i * n + k] = f;
      for (let j = k + 1; j < n; j++) m[i * n + j] = m[i * n + j]! - f * m[k * n + j]!;
    }
  }
  return { lu: m, piv, sign, singularAt };
}

/** det, logdet (log |det|) or the inverse (n×n, row-major) of the n×n row-major matrix `a`. */
export function matrixFunction(fn: MatrixFn, a: ArrayLike<number>, n: number, what: string): Float64Array {
  const f = factor(a, n);
  const { lu } = f;
  if (fn === 'det') {
    let d = f.sign;
    for (let k = 0; k < n; k++) d *= lu[k * n + k]!;
    return Float64Array.of(d);
  }
  if (f.singularAt >= 0)
    throw new SingularMatrixError(`${what}: the matrix is singular (its pivot in column ${f.singularAt + 1} is ${lu[f.singularAt * n + f.singularAt]}; ${fn === 'inv' ? 'it has no inverse' : 'log |det| is −∞'})`);
  if (fn === 'logdet') {
    let s = 0;
    for (let k = 0; k < n; k++) s += Math.log(Math.abs(lu[k * n + k]!));
    return Float64Array.of(s);
  }
  const out = new Float64Array(n * n);
  const b = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    b.fill(0);
    b[j] = 1;
    for (let k = 0; k < n; k++) {
      const p = f.piv[k]!;
      const t = b[k]!;
      b[k] = b[p]!;
      b[p] = t;
    }
    for (let i = 0; i < n; i++) {
      let s = b[i]!;
      for (let k = 0; k < i; k++) s -= lu[i * n + k]! * b[k]!;
      b[i] = s;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = b[i]!;
      for (let k = i + 1; k < n; k++) s -= lu[i * n + k]! * b[k]!;
      b[i] = s / lu[i * n + i]!;
    }
    for (let i = 0; i < n; i++) out[i * n + j] = b[i]!;
  }
  return out;
}

/** The error function to about 1e-15: its Taylor series for |x| < 2.5, else 1 − erfc(x) from erfc's
 *  continued fraction. (No Math.erf; the kernels' helper, src/target/js.ts, is this same code.) */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (!(a < 2.5)) {
    if (a === Infinity) return Math.sign(x);
    if (Number.isNaN(a)) return a;
    // erfc(a) = e^(−a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + …)))), evaluated from the inside
    let f = a;
    for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
    const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
    return x < 0 ? erfc - 1 : 1 - erfc;
  }
  // 2/√π Σ (−1)ⁿ x^(2n+1) / (n!(2n+1))
  let term = x;
  let sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    const t = term / (2 * n + 1);
    sum += t;
    if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
