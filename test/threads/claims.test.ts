// The claim word threads share a GEMM's blocks by (target/module.ts $claim, opt/splitParallelLoop.ts):
// whatever order the threads' atomic adds come in, every iteration is taken exactly once — with two
// parts, part 0's from the front and part 1's from the back — and every add after the last is −1.
import { describe, expect, it } from 'vitest';
import { CLAIM_HELPER } from '../../src/target/module.js';
import { makeRand } from '../../examples/lib/random.js';

type Claim = (w: Int32Array, at: number, part: number, parts: number, trips: number) => number;
const claim = new Function(`${CLAIM_HELPER}\nreturn $claim;`)() as Claim;

/** Each part claims until it gets −1, the parts taking turns in a random order. */
function interleave(parts: number, trips: number, seed: number): number[][] {
  const rand = makeRand(seed);
  const w = new Int32Array(4);
  const got: number[][] = Array.from({ length: parts }, () => []);
  const done = new Set<number>();
  while (done.size < parts) {
    const p = Math.floor(rand() * parts);
    if (done.has(p)) continue;
    const i = claim(w, 2, p, parts, trips);
    if (i < 0) done.add(p);
    else got[p]!.push(i);
  }
  // other words untouched
  expect([w[0], w[1], w[3]]).toEqual([0, 0, 0]);
  return got;
}

describe('claiming loop iterations', () => {
  it('two parts: each iteration once, part 0 from the front, part 1 from the back', () => {
    for (const trips of [1, 2, 3, 8, 50, 4096])
      for (let seed = 1; seed <= 20; seed++) {
        const [front, back] = interleave(2, trips, seed);
        expect([...front!, ...back!].sort((a, b) => a - b)).toEqual(Array.from({ length: trips }, (_, i) => i));
        expect(front).toEqual(Array.from({ length: front!.length }, (_, i) => i));
        expect(back).toEqual(Array.from({ length: back!.length }, (_, i) => trips - 1 - i));
      }
  });

  it('one part takes all in order; three parts share them from the front, each once', () => {
    expect(interleave(1, 7, 1)).toEqual([[0, 1, 2, 3, 4, 5, 6]]);
    for (let seed = 1; seed <= 20; seed++) {
      const got = interleave(3, 40, seed);
      expect(got.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
      for (const mine of got) expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
  });

  it('no iterations: every claim is −1', () => {
    expect(interleave(2, 0, 3)).toEqual([[], []]);
  });
});
