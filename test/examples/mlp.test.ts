// A short training run of the examples' MLP (784→128→10, generated affine/relu/softmaxCrossEntropy
// layers, generated sgd update) on a subset of the digits: the loss must fall and the held-out
// accuracy must pass a clear bar. Plus the weights round trip and the command-line flags.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFlags } from '../../examples/lib/cli.js';
import { loadDigits, type Dataset } from '../../examples/lib/data.js';
import { makeRand } from '../../examples/lib/random.js';
import { accuracy, sgdOptimizer, train } from '../../examples/lib/train.js';
import { loadWeights, saveWeights } from '../../examples/lib/weights.js';
import { createMlp } from '../../examples/models/mlp.js';

const dir = mkdtempSync(join(tmpdir(), 'deltagrad-mlp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const subset = (ds: Dataset, n: number): Dataset => ({ ...ds, n, x: ds.x.subarray(0, n * ds.dim), y: ds.y.subarray(0, n) });

describe('examples: the MNIST MLP trained with generated kernels', () => {
  const data = loadDigits({ seed: 1 });
  const trainSet = subset(data.train, 4000);
  const testSet = subset(data.test, 1000);

  it('splits the 10 000 digits of the mnist package 8 000 / 2 000 with a fixed seed', () => {
    expect(data.train.n).toBe(8000);
    expect(data.test.n).toBe(2000);
    expect(data.train.x.length).toBe(8000 * 784);
    const again = loadDigits({ seed: 1 });
    expect(again.test.y).toEqual(data.test.y);
    // every class is present in both parts, pixels are in [0, 1]
    for (const ds of [data.train, data.test]) expect(new Set(ds.y).size).toBe(10);
    expect(Math.max(...data.test.x.subarray(0, 784 * 20))).toBeLessThanOrEqual(1);
  });

  it('a short run on 4 000 digits: the loss falls and held-out accuracy ≥ 85%', async () => {
    const rand = makeRand(7);
    const model = createMlp(rand);
    const before = await accuracy(model, testSet);
    const history = await train(model, trainSet, testSet, { epochs: 2, batch: 32, lr: 0.2, optimizer: sgdOptimizer(model.params), rand, quiet: true, log: () => {} });
    const first = history.batchLoss.slice(0, 10).reduce((a, p) => a + p[1], 0) / 10;
    const last = history.epochs.at(-1)!;
    expect(first).toBeGreaterThan(1.5); // ≈ ln 10 at the start
    expect(last.loss).toBeLessThan(first / 4);
    expect(history.epochs[1]!.loss).toBeLessThan(history.epochs[0]!.loss);
    expect(before).toBeLessThan(30);
    expect(last.testAccuracy).toBeGreaterThanOrEqual(85);
    expect(last.trainAccuracy).toBeGreaterThanOrEqual(85);

    // the weights survive a save and a load bit for bit
    const file = join(dir, 'mlp.json');
    saveWeights(file, model.name, model.params, { testAccuracy: last.testAccuracy });
    const fresh = createMlp(makeRand(99));
    expect(await accuracy(fresh, testSet)).toBeLessThan(30);
    const meta = loadWeights(file, fresh.name, fresh.params);
    expect(meta.testAccuracy).toBe(last.testAccuracy);
    fresh.params.forEach((p, i) => expect(p.data).toEqual(model.params[i]!.data));
    expect(await accuracy(fresh, testSet)).toBe(last.testAccuracy);
  }, 120_000); // ≈ 6 s of CPU; the margin is for a busy machine

  it('refuses weights of another shape or model', () => {
    const file = join(dir, 'small.json');
    const small = createMlp(makeRand(1), { hidden: 16 });
    saveWeights(file, small.name, small.params);
    expect(() => loadWeights(file, 'mlp-mnist', createMlp(makeRand(1)).params)).toThrow(/W1 has shape \[16, 784\], the model needs \[128, 784\]/);
    expect(() => loadWeights(file, 'cnn-mnist', small.params)).toThrow(/weights of the model mlp-mnist, not cnn-mnist/);
  });
});

describe('examples: command-line flags', () => {
  it('--epochs --batch --lr --save --load override the defaults', () => {
    const f = parseFlags('mlp-mnist', { epochs: 15, batch: 32, lr: 0.1 }, ['--epochs', '2', '--batch', '64', '--lr', '0.05', '--save', 'w.json', '--load', 'v.json']);
    expect(f).toMatchObject({ epochs: 2, batch: 64, lr: 0.05, save: 'w.json', load: 'v.json', seed: 1 });
    expect(parseFlags('x', { epochs: 3, batch: 8, lr: 1 }, [])).toMatchObject({ epochs: 3, batch: 8, lr: 1, save: undefined, load: undefined });
  });

  // was a Node stack trace from examples/lib/weights.ts
  it('a missing or malformed --load file ends the example with its message and exit 1, no stack trace', () => {
    const tsx = createRequire(import.meta.url).resolve('tsx/cli');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{bad');
    for (const [file, message] of [
      [join(dir, 'missing.json'), /^error: cannot read weights from .*missing\.json: ENOENT/m],
      [bad, /^error: cannot read weights from .*bad\.json: .*JSON/m],
    ] as const) {
      const r = spawnSync(process.execPath, [tsx, 'examples/two-layer-svm.ts', '--load', file, '--epochs', '0'], { encoding: 'utf8', cwd: new URL('../../', import.meta.url) });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  }, 60_000);
});
