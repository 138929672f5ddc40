// The command-line driver of the digit examples: flags, data, optional weight loading, training,
// the summary, the plot and optional weight saving.
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import { orExit, parseFlags, type FlagDefaults } from './cli.js';
import { IMAGE_SIZE, loadDigits, shiftImages, type Dataset } from './data.js';
import { makeRand, type Rand } from './random.js';
import { accuracy, historyPlot, momentumOptimizer, sgdOptimizer, train, writeSvg, type Model } from './train.js';
import { loadWeights, saveWeights } from './weights.js';

export interface DigitsExample {
  readonly name: string;
  readonly title: string;
  readonly description: readonly string[];
  readonly defaults: FlagDefaults;
  readonly lrDecay?: number;
  readonly optimizer: 'sgd' | 'momentum';
  readonly momentum?: number;
  /** shift every training image by up to this many pixels each way (data augmentation); 0 = none */
  readonly shift?: number;
  readonly createModel: (rand: Rand) => Model;
  /** --threads N: the same network (and initial weights) as one compile()d program on N worker threads */
  readonly createThreadedModel?: (rand: Rand, threads: number) => Model & { readonly threads: number; dispose(): void };
}

const subset = (ds: Dataset, n: number | undefined): Dataset =>
  n === undefined || n >= ds.n ? ds : { ...ds, n, x: ds.x.subarray(0, n * ds.dim), y: ds.y.subarray(0, n) };

export async function runDigitsExample(ex: DigitsExample): Promise<void> {
  const flags = parseFlags(ex.name, ex.defaults);
  for (const line of ex.description) console.log(line);
  if (flags.threads !== undefined && !ex.createThreadedModel) orExit(() => {
    throw new Error(`${ex.name} has no threaded model`);
  });
  const t0 = performance.now();
  const data = loadDigits({ seed: flags.seed });
  const trainSet = subset(data.train, flags.train);
  const testSet = subset(data.test, flags.test);
  console.log(
    `data: ${trainSet.n} training and ${testSet.n} held-out digits from the mnist package (split with seed ${flags.seed}), ` +
      `loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const rand = makeRand(flags.seed * 7919 + 17);
  const threaded = flags.threads !== undefined ? ex.createThreadedModel!(rand, flags.threads) : undefined;
  const model = threaded ?? ex.createModel(rand);
  if (threaded)
    console.log(
      `threads: the whole network as one program, compile(…, { threads: ${flags.threads} }) — ${threaded.threads} worker thread${threaded.threads > 1 ? 's' : ''}` +
        `${threaded.threads < flags.threads! ? ' (no shared memory here: one thread)' : ''}, not the generated/ layers`,
    );
  const count = model.params.reduce((a, p) => a + p.data.length, 0);
  console.log(`model: ${model.params.map((p) => `${p.name}[${p.shape.join('×')}]`).join(' ')} — ${count.toLocaleString('en-US')} parameters`);
  if (flags.load) {
    const meta = orExit(() => loadWeights(flags.load!, model.name, model.params));
    console.log(`loaded weights from ${flags.load}${meta.testAccuracy !== undefined ? ` (saved at ${String(meta.testAccuracy)}% test accuracy)` : ''}`);
  }
  const mu = ex.momentum ?? 0.9;
  const optimizer = ex.optimizer === 'momentum' ? momentumOptimizer(model.params, mu) : sgdOptimizer(model.params);
  console.log(
    `training: ${flags.epochs} epochs, batch ${flags.batch}, lr ${flags.lr}${ex.lrDecay && ex.lrDecay !== 1 ? ` (×${ex.lrDecay} per epoch)` : ''}, ` +
      `${ex.optimizer === 'momentum' ? `SGD with momentum ${mu} (generated sgdMomentum)` : 'plain SGD (generated sgd)'}` +
      `${ex.shift ? `; training images shifted at random by up to ${ex.shift} pixel${ex.shift > 1 ? 's' : ''} each way` : ''}`,
  );
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const history = await train(model, trainSet, testSet, {
    epochs: flags.epochs,
    batch: flags.batch,
    lr: flags.lr,
    lrDecay: ex.lrDecay ?? 1,
    optimizer,
    rand,
    quiet: flags.quiet,
    ...(ex.shift ? { augment: (x: Float64Array, n: number) => shiftImages(x, n, IMAGE_SIZE, ex.shift!, rand) } : {}),
  });
  const total = (performance.now() - start) / 1000;
  const cpuUsed = process.cpuUsage(cpuStart);
  const cpuTotal = (cpuUsed.user + cpuUsed.system) / 1e6;
  const final = history.epochs.at(-1)?.testAccuracy ?? (await accuracy(model, testSet));
  if (history.epochs.length) {
    const perEpoch = history.epochs.reduce((a, e) => a + e.seconds, 0) / history.epochs.length;
    const cpuPerEpoch = history.epochs.reduce((a, e) => a + e.cpuSeconds, 0) / history.epochs.length;
    console.log(
      `done: test accuracy ${final.toFixed(2)}% on ${testSet.n} held-out digits after ${history.epochs.length} epochs; ` +
        `${perEpoch.toFixed(1)} s per epoch (cpu ${cpuPerEpoch.toFixed(1)} s), ${total.toFixed(1)} s in all with evaluation (cpu ${cpuTotal.toFixed(1)} s)`,
    );
    const plot = flags.plot ?? fileURLToPath(new URL(`../out/${ex.name}.svg`, import.meta.url));
    writeSvg(
      plot,
      historyPlot(
        ex.title,
        `${trainSet.n} training / ${testSet.n} held-out digits · batch ${flags.batch} · lr ${flags.lr} · ${history.epochs.length} epochs · ` +
          `${perEpoch.toFixed(1)} s/epoch (cpu ${cpuPerEpoch.toFixed(1)} s) · final test accuracy ${final.toFixed(2)}%`,
        history,
      ),
    );
    console.log(`plot: ${relative(process.cwd(), plot) || plot}`);
  } else {
    console.log(`test accuracy ${final.toFixed(2)}% on ${testSet.n} held-out digits (no training: --epochs 0)`);
  }
  if (flags.save) {
    orExit(() => saveWeights(flags.save!, model.name, model.params, { testAccuracy: Number(final.toFixed(2)), epochs: history.epochs.length, seed: flags.seed }));
    console.log(`saved weights to ${flags.save}`);
  }
  threaded?.dispose();
}
