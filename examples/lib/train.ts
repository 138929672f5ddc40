// The training loop shared by the digit examples: shuffled mini-batches, the generated SGD or
// SGD-with-momentum kernels for the update, a progress bar with running loss and throughput, test
// accuracy after every epoch, and the history for the plot. All the math runs in deltagrad's
// generated kernels (the models call them; the updates below call sgd / sgdMomentum); this file
// only moves data around.
import cliProgress from 'cli-progress';
import { sgd, sgdMomentum, type OperatorContext } from '../../generated/index.js';
import { countCorrect, gatherBatch, type Dataset } from './data.js';
import { svgPlot, smooth, writeSvg } from './plot.js';
import { shuffle, type Rand } from './random.js';
import type { Param } from './weights.js';

export interface StepResult {
  /** the mean loss of the batch */
  readonly loss: number;
  /** class scores [n, classes] */
  readonly scores: Float64Array;
  /**
   * the gradient of every parameter, in the order of `params`; a list of arrays is a gradient in
   * parts whose sum is the gradient (e.g. the data loss's and the L2 penalty's), all computed at
   * the same weights, so plain SGD can apply them one after the other
   */
  readonly grads: readonly (Float64Array | readonly Float64Array[])[];
}

export interface Model {
  readonly name: string;
  readonly params: readonly Param[];
  readonly classes: number;
  /** forward and backward on a batch of n samples (x: [n, dim], onehot: [n, classes]); a Promise
   *  when the kernels run on worker threads (models/compiled.ts) */
  step(x: Float64Array, onehot: Float64Array, n: number): StepResult | Promise<StepResult>;
  /** forward only: class scores [n, classes] */
  scores(x: Float64Array, n: number): Float64Array | Promise<Float64Array>;
}

/** A model whose kernels run on the calling thread (the generated layers): no Promises. */
export interface SyncModel extends Model {
  step(x: Float64Array, onehot: Float64Array, n: number): StepResult;
  scores(x: Float64Array, n: number): Float64Array;
}

/** A parameter update with the generated optimizer kernels, in place. */
export interface Optimizer {
  step(grads: StepResult['grads'], lr: number): void;
}

export function sgdOptimizer(params: readonly Param[]): Optimizer {
  const ctx: OperatorContext = {};
  return {
    step(grads, lr) {
      params.forEach((p, i) => {
        const g = grads[i]!;
        for (const G of g instanceof Float64Array ? [g] : g) sgd.forward(ctx, { W: p.data, G, lr }, { D: p.data.length }, { Wnew: p.data });
      });
    },
  };
}

export function momentumOptimizer(params: readonly Param[], mu: number): Optimizer {
  const ctx: OperatorContext = {};
  const velocity = params.map((p) => new Float64Array(p.data.length));
  return {
    step(grads, lr) {
      params.forEach((p, i) => {
        const V = velocity[i]!;
        const G = grads[i]!;
        if (!(G instanceof Float64Array)) throw new Error(`momentum needs one gradient array per parameter (${p.name} came in ${G.length} parts)`);
        sgdMomentum.forward(ctx, { W: p.data, V, G, lr, mu }, { D: p.data.length }, { Vnew: V, Wnew: p.data });
      });
    },
  };
}

export interface EpochRecord {
  readonly epoch: number;
  /** mean training loss over the epoch's batches */
  readonly loss: number;
  /** accuracy on the training batches while training (%) */
  readonly trainAccuracy: number;
  /** accuracy on the held-out set after the epoch (%) */
  readonly testAccuracy: number;
  /** wall-clock seconds of the training pass (without the test evaluation) */
  readonly seconds: number;
  /** CPU seconds (user + system) of this process over the same pass: what the run costs on one core */
  readonly cpuSeconds: number;
  readonly examplesPerSecond: number;
  readonly lr: number;
}

export interface History {
  /** [epoch + fraction, batch loss] */
  readonly batchLoss: [number, number][];
  readonly epochs: EpochRecord[];
  /** test accuracy before any training (%) */
  initialTestAccuracy: number;
}

export interface TrainOptions {
  readonly epochs: number;
  readonly batch: number;
  readonly lr: number;
  /** multiply the learning rate by this after every epoch (default 1) */
  readonly lrDecay?: number;
  readonly optimizer: Optimizer;
  readonly rand: Rand;
  /** no progress bar */
  readonly quiet?: boolean;
  /** changes a training batch in place before the step (data augmentation) */
  readonly augment?: (x: Float64Array, n: number) => void;
  /** called with each line of the epoch summary (default console.log) */
  readonly log?: (line: string) => void;
}

/** Accuracy (%) of the model on a data set, in batches of `batch`. */
export async function accuracy(model: Model, ds: Dataset, batch = 500): Promise<number> {
  let correct = 0;
  for (let start = 0; start < ds.n; start += batch) {
    const n = Math.min(batch, ds.n - start);
    const scores = await model.scores(ds.x.subarray(start * ds.dim, (start + n) * ds.dim), n);
    correct += countCorrect(scores, ds.y.subarray(start, start + n), n, model.classes);
  }
  return (100 * correct) / ds.n;
}

export async function train(model: Model, trainSet: Dataset, testSet: Dataset, o: TrainOptions): Promise<History> {
  const log = o.log ?? ((s: string) => console.log(s));
  const history: History = { batchLoss: [], epochs: [], initialTestAccuracy: await accuracy(model, testSet) };
  log(`before training: test accuracy ${history.initialTestAccuracy.toFixed(2)}%`);
  const order = Int32Array.from({ length: trainSet.n }, (_, i) => i);
  const xb = new Float64Array(o.batch * trainSet.dim);
  const yb = new Float64Array(o.batch * trainSet.classes);
  const lb = new Int32Array(o.batch);
  const batches = Math.ceil(trainSet.n / o.batch);
  const showBar = !o.quiet && process.stdout.isTTY === true;
  let lr = o.lr;
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    shuffle(order, o.rand);
    const bar = showBar
      ? new cliProgress.SingleBar(
          {
            format: `epoch ${epoch}/${o.epochs} |{bar}| {value}/{total} | loss {loss} | {speed} ex/s | eta {eta_formatted}`,
            stream: process.stdout,
            hideCursor: true,
            barsize: 30,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
    bar?.start(trainSet.n, 0, { loss: '—', speed: '—' });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let lossSum = 0;
    let seen = 0;
    let correct = 0;
    for (let b = 0; b < batches; b++) {
      const start = b * o.batch;
      const n = Math.min(o.batch, trainSet.n - start);
      gatherBatch(trainSet, order, start, n, xb, yb, lb);
      const x = n === o.batch ? xb : xb.subarray(0, n * trainSet.dim);
      const y = n === o.batch ? yb : yb.subarray(0, n * trainSet.classes);
      o.augment?.(x, n);
      const r = await model.step(x, y, n);
      if (!Number.isFinite(r.loss)) throw new Error(`the loss became ${r.loss} in epoch ${epoch}, batch ${b + 1}: try a smaller --lr`);
      o.optimizer.step(r.grads, lr);
      lossSum += r.loss * n;
      seen += n;
      correct += countCorrect(r.scores, lb, n, model.classes);
      history.batchLoss.push([epoch - 1 + seen / trainSet.n, r.loss]);
      const elapsed = (performance.now() - t0) / 1000;
      bar?.update(seen, { loss: (lossSum / seen).toFixed(4), speed: Math.round(seen / Math.max(elapsed, 1e-9)) });
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    bar?.stop();
    const testAccuracy = await accuracy(model, testSet);
    const rec: EpochRecord = {
      epoch,
      loss: lossSum / seen,
      trainAccuracy: (100 * correct) / seen,
      testAccuracy,
      seconds,
      cpuSeconds,
      examplesPerSecond: seen / seconds,
      lr,
    };
    history.epochs.push(rec);
    log(
      `epoch ${String(epoch).padStart(2)}/${o.epochs}  loss ${rec.loss.toFixed(4)}  train acc ${rec.trainAccuracy.toFixed(2)}%  ` +
        `test acc ${rec.testAccuracy.toFixed(2)}%  ${rec.seconds.toFixed(1)} s (cpu ${rec.cpuSeconds.toFixed(1)} s)  ${Math.round(rec.examplesPerSecond)} ex/s  lr ${Number(lr.toPrecision(4))}`,
    );
    lr *= o.lrDecay ?? 1;
  }
  return history;
}

/** The loss and accuracy curves of a run as an SVG document. */
export function historyPlot(title: string, subtitle: string, h: History): string {
  const raw = h.batchLoss;
  const smoothed = smooth(raw, Math.max(5, Math.round(raw.length / 50)));
  const accTrain = h.epochs.map((e) => [e.epoch, e.trainAccuracy] as [number, number]);
  const accTest = h.epochs.map((e) => [e.epoch, e.testAccuracy] as [number, number]);
  const allAcc = [...accTrain, ...accTest].map((p) => p[1]);
  const lo = allAcc.length ? Math.max(0, Math.floor((Math.min(...allAcc) - 1) / 5) * 5) : 0;
  const epochs = Math.max(1, h.epochs.length);
  return svgPlot({
    title,
    subtitle,
    panels: [
      {
        title: 'training loss',
        xLabel: 'epoch',
        yLabel: 'loss',
        xRange: [0, epochs],
        yRange: [0, Math.max(...smoothed.map((p) => p[1]), 0.1) * 1.08],
        series: [
          { label: 'batch loss', color: '#9ecae1', points: raw, width: 1, opacity: 0.7 },
          { label: 'moving average', color: '#08519c', points: smoothed, width: 2 },
          { label: 'mean of each epoch', color: '#e6550d', points: h.epochs.map((e) => [e.epoch - 0.5, e.loss]), dots: true },
        ],
      },
      {
        title: 'accuracy after each epoch',
        xLabel: 'epoch',
        yLabel: 'accuracy (%)',
        xRange: [0.5, epochs + 0.5],
        yRange: [lo, 100],
        legend: 'bottom-right',
        series: [
          { label: 'training batches', color: '#31a354', points: accTrain, dots: true },
          { label: `held-out test (last ${h.epochs.at(-1)?.testAccuracy.toFixed(2) ?? '—'}%)`, color: '#d62728', points: accTest, dots: true },
        ],
      },
    ],
  });
}

export { writeSvg };
