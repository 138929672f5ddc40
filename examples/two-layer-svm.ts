// npm run example:two-layer-svm — seed 003's network: scores s = W2·max(0, W1·x), the multiclass SVM
// loss averaged over the samples plus λ·ΣW1² + λ·ΣW2², trained with gradient descent on a 2-D
// three-arm spiral made in code. The whole network is one deltagrad program,
// examples/layers/two_layer_svm.dg, compiled at run time with compile(); the update is the generated
// sgd kernel. The program has no bias vectors, so each point is given a constant third coordinate
// 1 (the "bias trick": the last column of W1 acts as the hidden biases).
import cliProgress from 'cli-progress';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sgd, type OperatorContext } from '../generated/index.js';
import { compile, type Kernel } from '../src/index.js';
import { orExit, parseFlags } from './lib/cli.js';
import { countCorrect, gatherBatch, spiral, type Dataset } from './lib/data.js';
import { svgPlot, writeSvg, type Cell } from './lib/plot.js';
import { gaussianArray, makeRand, shuffle } from './lib/random.js';
import { loadWeights, saveWeights, type Param } from './lib/weights.js';

const NAME = 'two-layer-svm';
const flags = parseFlags(NAME, { epochs: 4000, batch: 300, lr: 1 });
if (flags.threads !== undefined)
  orExit(() => {
    throw new Error('two-layer-svm runs on one thread: its 300-point network is too small to share out (--threads is for mlp-mnist and cnn-mnist)');
  });
const PER_CLASS = 100;
const CLASSES = 3;
const HIDDEN = 100;
const LAMBDA = 1e-3;

console.log('two-layer-svm: seed 003’s two-layer ReLU network s = W2·max(0, W1·x) with the SVM hinge loss + λ·ΣW², on a 2-D spiral');
console.log('program (compiled with deltagrad compile()): examples/layers/two_layer_svm.dg; update: generated sgd');

const rand = makeRand(flags.seed);
const points = spiral(PER_CLASS, CLASSES, rand);
// the bias trick: x = (x1, x2, 1)
const withOne = (x: Float64Array, n: number) => {
  const out = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = x[i * 2]!;
    out[i * 3 + 1] = x[i * 2 + 1]!;
    out[i * 3 + 2] = 1;
  }
  return out;
};
const data: Dataset = { x: withOne(points.x, points.n), y: points.y, n: points.n, dim: 3, classes: CLASSES };
const batch = Math.min(flags.batch, data.n);
console.log(`data: ${data.n} points, ${PER_CLASS} per class on ${CLASSES} spiral arms (seed ${flags.seed}); hidden units ${HIDDEN}, λ = ${LAMBDA}`);

const source = readFileSync(fileURLToPath(new URL('layers/two_layer_svm.dg', import.meta.url)), 'utf8');
const kernels = new Map<number, Kernel>();
const kernelFor = (N: number): Kernel => {
  let k = kernels.get(N);
  if (!k) kernels.set(N, (k = compile(source, { sizes: { N, D: 3, H: HIDDEN, C: CLASSES } })));
  return k;
};

const params: Param[] = [
  { name: 'W1', shape: [HIDDEN, 3], data: gaussianArray(HIDDEN * 3, 0.5, rand) },
  { name: 'W2', shape: [CLASSES, HIDDEN], data: gaussianArray(CLASSES * HIDDEN, 0.1, rand) },
];
const [W1, W2] = params.map((p) => p.data) as [Float64Array, Float64Array];
if (flags.load) {
  orExit(() => loadWeights(flags.load!, NAME, params));
  console.log(`loaded weights from ${flags.load}`);
}

/** loss (with the penalty) and scores of the whole data set */
const evaluateAll = () => {
  const Yt = new Float64Array(data.n * CLASSES);
  for (let i = 0; i < data.n; i++) Yt[i * CLASSES + data.y[i]!] = 1;
  const out = kernelFor(data.n).forward({ X: data.x, W1, W2, Yt, lam: LAMBDA });
  return { loss: out.L![0]!, accuracy: (100 * countCorrect(out.S!, data.y, data.n, CLASSES)) / data.n };
};

const initial = evaluateAll();
console.log(`before training: loss ${initial.loss.toFixed(4)}, training accuracy ${initial.accuracy.toFixed(2)}%`);
// the learning rate halves after each quarter of the run: big steps first, then settling in (the
// hinge loss has kinks, and a constant big step keeps jumping across them)
const lrAt = (epoch: number) => flags.lr * 0.5 ** Math.floor((4 * (epoch - 1)) / flags.epochs);
console.log(
  `training: ${flags.epochs} epochs of ${batch === data.n ? 'full-batch gradient descent' : `mini-batches of ${batch}`}, ` +
    `lr ${flags.lr} halved after each quarter of the run (last ${lrAt(flags.epochs)})`,
);

const sgdCtx: OperatorContext = {};
const order = Int32Array.from({ length: data.n }, (_, i) => i);
const xb = new Float64Array(batch * 3);
const yb = new Float64Array(batch * CLASSES);
const lb = new Int32Array(batch);
const history: { epoch: number; loss: number; accuracy: number }[] = [{ epoch: 0, ...initial }];
const logEvery = Math.max(1, Math.round(flags.epochs / 10));
const bar =
  !flags.quiet && process.stdout.isTTY
    ? new cliProgress.SingleBar(
        { format: 'training |{bar}| epoch {value}/{total} | loss {loss} | acc {acc}% | {speed} ex/s', stream: process.stdout, hideCursor: true, barsize: 30 },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
bar?.start(flags.epochs, 0, { loss: initial.loss.toFixed(4), acc: initial.accuracy.toFixed(1), speed: '—' });
const t0 = performance.now();
const cpu0 = process.cpuUsage();
for (let epoch = 1; epoch <= flags.epochs; epoch++) {
  if (batch < data.n) shuffle(order, rand);
  for (let start = 0; start < data.n; start += batch) {
    const n = Math.min(batch, data.n - start);
    gatherBatch(data, order, start, n, xb, yb, lb);
    const grads = kernelFor(n).backward({ X: xb.subarray(0, n * 3), W1, W2, Yt: yb.subarray(0, n * CLASSES), lam: LAMBDA });
    const lr = lrAt(epoch);
    sgd.forward(sgdCtx, { W: W1, G: grads.dW1 as Float64Array, lr }, { D: W1.length }, { Wnew: W1 });
    sgd.forward(sgdCtx, { W: W2, G: grads.dW2 as Float64Array, lr }, { D: W2.length }, { Wnew: W2 });
  }
  if (epoch % Math.max(1, Math.round(flags.epochs / 200)) === 0 || epoch === flags.epochs) {
    const r = evaluateAll();
    history.push({ epoch, ...r });
    const elapsed = (performance.now() - t0) / 1000;
    bar?.update(epoch, { loss: r.loss.toFixed(4), acc: r.accuracy.toFixed(1), speed: Math.round((epoch * data.n) / elapsed) });
    if (!bar && (epoch % logEvery === 0 || epoch === flags.epochs)) console.log(`epoch ${String(epoch).padStart(5)}  loss ${r.loss.toFixed(4)}  training accuracy ${r.accuracy.toFixed(2)}%`);
  }
}
bar?.stop();
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const final = evaluateAll();
console.log(
  `done: loss ${final.loss.toFixed(4)}, training accuracy ${final.accuracy.toFixed(2)}% after ${flags.epochs} epochs ` +
    `(${seconds.toFixed(1)} s, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, ${Math.round((flags.epochs * data.n) / seconds)} ex/s)`,
);

// the plot: loss and accuracy curves, and the decision regions over the plane with the points
const G = 80;
const lo = -1.1;
const hi = 1.1;
const grid = new Float64Array(G * G * 3);
for (let a = 0; a < G; a++)
  for (let b = 0; b < G; b++) {
    const i = a * G + b;
    grid[i * 3] = lo + ((b + 0.5) / G) * (hi - lo);
    grid[i * 3 + 1] = lo + ((a + 0.5) / G) * (hi - lo);
    grid[i * 3 + 2] = 1;
  }
const gridScores = kernelFor(G * G).forward({ X: grid, W1, W2, Yt: new Float64Array(G * G * CLASSES), lam: LAMBDA }).S!;
const colors = ['#1f77b4', '#d62728', '#2ca02c'];
const cells: Cell[] = [];
const step = (hi - lo) / G;
for (let i = 0; i < G * G; i++) {
  let best = 0;
  for (let c = 1; c < CLASSES; c++) if (gridScores[i * CLASSES + c]! > gridScores[i * CLASSES + best]!) best = c;
  const x0 = grid[i * 3]! - step / 2;
  const y0 = grid[i * 3 + 1]! - step / 2;
  cells.push({ x0, y0, x1: x0 + step, y1: y0 + step, color: colors[best]!, opacity: 0.28 });
}
const plotFile = flags.plot ?? fileURLToPath(new URL(`out/${NAME}.svg`, import.meta.url));
writeSvg(
  plotFile,
  svgPlot({
    title: 'Two-layer ReLU network, SVM loss + λΣW², on a 3-arm spiral (deltagrad compile())',
    subtitle: `${data.n} points · ${HIDDEN} hidden units · λ ${LAMBDA} · lr ${flags.lr} (halved each quarter) · ${flags.epochs} epochs · final loss ${final.loss.toFixed(3)} · training accuracy ${final.accuracy.toFixed(2)}%`,
    panels: [
      {
        title: 'loss (SVM + λΣW²)',
        xLabel: 'epoch',
        yLabel: 'loss',
        xRange: [0, Math.max(1, flags.epochs)],
        yRange: [0, Math.max(...history.map((h) => h.loss)) * 1.05],
        series: [{ label: 'full-data loss', color: '#08519c', points: history.map((h) => [h.epoch, h.loss]) }],
      },
      {
        title: 'training accuracy',
        xLabel: 'epoch',
        yLabel: 'accuracy (%)',
        xRange: [0, Math.max(1, flags.epochs)],
        yRange: [0, 100],
        legend: 'bottom-right',
        series: [{ label: `accuracy (final ${final.accuracy.toFixed(2)}%)`, color: '#d62728', points: history.map((h) => [h.epoch, h.accuracy]) }],
      },
      {
        title: 'decision regions',
        xLabel: 'x₁',
        yLabel: 'x₂',
        xRange: [lo, hi],
        yRange: [lo, hi],
        cells,
        series: colors.map((color, c) => ({
          label: `class ${c}`,
          color,
          kind: 'scatter' as const,
          points: Array.from({ length: PER_CLASS }, (_, i) => [points.x[(c * PER_CLASS + i) * 2]!, points.x[(c * PER_CLASS + i) * 2 + 1]!] as [number, number]),
          hidden: true,
        })),
      },
    ],
  }),
);
console.log(`plot: ${relative(process.cwd(), plotFile) || plotFile}`);
if (flags.save) {
  orExit(() => saveWeights(flags.save!, NAME, params, { trainingAccuracy: Number(final.accuracy.toFixed(2)), epochs: flags.epochs }));
  console.log(`saved weights to ${flags.save}`);
}
if (final.accuracy < 95) console.log('note: below the 95% the seed reaches — try more --epochs');
