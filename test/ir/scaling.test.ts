// The compiler's own cost grows about linearly in the size of the program (issue 15, item 6): a
// guard against a quadratic pass coming back, not a speed measurement (that is the tooling bench,
// bench/groups/tooling.ts). Four times the program must cost well under the 16 times a quadratic
// pass would: the bound is 8, in CPU time (the machine may be busy), after a warm-up call.
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/diff/derive.js';
import { tanhChain, weightedSum } from '../../bench/lib/bigPrograms.js';

/** The least CPU milliseconds of f over `reps` calls. */
function cpuOf(f: () => unknown, reps = 2): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = process.cpuUsage();
    f();
    const u = process.cpuUsage(t);
    best = Math.min(best, (u.user + u.system) / 1000);
  }
  return best;
}

function growth(program: (n: number) => string, n: number, run: (src: string) => unknown): number {
  run(program(n)); // warm-up: the first call compiles the compiler
  const small = cpuOf(() => run(program(n)));
  const large = cpuOf(() => run(program(4 * n)));
  return large / small;
}

describe('derive scales linearly in the program', () => {
  it('derive: a sum of 2 000 terms costs less than 8× one of 500 (was quadratic: groups of like terms scanned)', () => {
    const src = weightedSum(3);
    expect(derive(src).gradients.X!.index).toBe('dX[p0] = (0 == p0) + 2*(1 == p0) + 3*(2 == p0)');
    expect(growth(weightedSum, 500, (s) => derive(s))).toBeLessThan(8);
  });
  it('derive: a chain of 200 layers costs less than 8× one of 50', () => {
    expect(growth(tanhChain, 50, (s) => derive(s))).toBeLessThan(8);
  });
});
