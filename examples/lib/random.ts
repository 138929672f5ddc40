// Seeded randomness for the examples: uniform (mulberry32 from the library), normal, shuffles.
import { seededRandom } from '../../src/index.js';

export type Rand = () => number;

export const makeRand = (seed: number): Rand => seededRandom(seed);

/** A standard normal sample (Box–Muller). */
export function normal(rand: Rand): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Fisher–Yates shuffle in place. */
export function shuffle<T extends { length: number; [i: number]: number }>(a: T, rand: Rand): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/** A Float64Array of normal samples scaled by `std` (He initialisation uses std = √(2/fan-in)). */
export function gaussianArray(n: number, std: number, rand: Rand): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = std * normal(rand);
  return a;
}
