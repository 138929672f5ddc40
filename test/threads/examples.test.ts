// The examples' --threads path: the CNN as one compile()d program on 2 worker threads computes the
// step of the generated layers — the same loss and scores, gradients within rounding — from the same
// weights; and the flag parses.
import { describe, expect, it } from 'vitest';
import { parseFlags } from '../../examples/lib/cli.js';
import { makeRand } from '../../examples/lib/random.js';
import { createCnn } from '../../examples/models/cnn.js';
import { cnnProgram, compiledModel } from '../../examples/models/compiled.js';
import { shareEveryKernel } from '../../src/plan/worthSharing.js';

// small, odd sizes: every kernel shared as at any size, the sizes rule off (plan/worthSharing.ts)
shareEveryKernel(true);

describe('examples: --threads', () => {
  it('the one-program CNN on 2 threads takes the generated layers’ step', async () => {
    const base = createCnn(makeRand(3));
    const model = compiledModel({ name: base.name, params: base.params, classes: 10, program: cnnProgram({ image: 28, f1: 8, f2: 16, classes: 10 }), threads: 2 });
    try {
      expect(model.threads).toBe(2);
      const N = 3;
      const x = Float64Array.from({ length: N * 784 }, (_, i) => (Math.sin(i) + 1) / 2);
      const y = new Float64Array(N * 10).map((_, i) => (i % 10 === Math.floor(i / 10) + 2 ? 1 : 0));
      const want = base.step(x, y, N);
      const got = await model.step(x, y, N);
      expect(got.loss).toBeCloseTo(want.loss, 12);
      expect(Array.from(got.scores)).toEqual(Array.from(want.scores));
      want.grads.forEach((g, i) => {
        const w = g as Float64Array;
        const h = got.grads[i] as Float64Array;
        const scale = Math.max(...w.map(Math.abs));
        expect(Math.max(...w.map((v, j) => Math.abs(v - h[j]!))), base.params[i]!.name).toBeLessThan(1e-12 * Math.max(1, scale));
      });
      expect(Array.from(await model.scores(x, N))).toEqual(Array.from(want.scores));
    } finally {
      model.dispose();
    }
  });

  it('parses --threads N', () => {
    expect(parseFlags('x', { epochs: 1, batch: 8, lr: 1 }, ['--threads', '2']).threads).toBe(2);
    expect(parseFlags('x', { epochs: 1, batch: 8, lr: 1 }, []).threads).toBeUndefined();
  });
});
