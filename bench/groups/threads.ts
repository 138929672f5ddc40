// threads: compile(src, { threads: 2 }) against the same program on one thread (compile() without
// threads), interleaved in one process — one sample of each per round, the order swapped every
// round — with the ratio of the medians:
//   matmul 1024³ float32 (forward), and the MNIST CNN training step (batch 32, float64: the whole
//   network as one program, examples/models/compiled.ts; backward gives every parameter's gradient,
//   into arrays reused from step to step as the example does),
//   the step also as a training loop runs it: 10 steps in a row per sample.
// Two threads can only beat one by 2× when the machine's second core is free, so the group samples
// /proc/stat (Linux) over the measurement: the cores busy in all, minus this process's own CPU time
// (its worker threads included), is what other processes took. It also records os.loadavg(), and
// each core's speed on a register-only loop pinned to it (taskset): a free core can still be a slow
// one (a vCPU the host gives less time), and even shares then cap two threads below 2×.
import { cpus } from 'node:os';
import { compile } from '../../src/codegen/compile.js';
import { cnnProgram } from '../../examples/models/compiled.js';
import type { Row } from '../lib/cases.js';
import { median } from '../lib/timing.js';
import { coreSpeeds, evenSharesBound, measured } from '../lib/load.js';

interface Pair {
  readonly name: string;
  readonly op: string;
  readonly dtype: 'f32' | 'f64';
  readonly flops?: number;
  one(): void;
  two(): Promise<unknown>;
  dispose(): void;
}

function matmulPair(n: number): Pair {
  const sizes = { I: n, J: n, K: n };
  const source = 'Y[i,j] = sum(k) A[i,k]*B[k,j]';
  const A = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i) * 0.5);
  const B = Float32Array.from({ length: n * n }, (_, i) => Math.cos(i) * 0.5);
  const k1 = compile(source, { sizes, dtype: 'float32' });
  const k2 = compile(source, { sizes, dtype: 'float32', threads: 2 });
  const out1 = { Y: new Float32Array(n * n) };
  const out2 = { Y: new Float32Array(n * n) };
  return { name: `matmul ${n}³`, op: 'forward', dtype: 'f32', flops: 2 * n * n * n, one: () => void k1.forward({ A, B }, out1), two: () => k2.forward({ A, B }, out2), dispose: () => k2.dispose() };
}

function cnnPair(batch: number): Pair {
  const program = cnnProgram({ image: 28, f1: 8, f2: 16, classes: 10 });
  const wrt = ['K1', 'b1', 'K2', 'b2', 'W3', 'b3'];
  const k1 = compile(program, { sizes: { N: batch }, wrt });
  const k2 = compile(program, { sizes: { N: batch }, wrt, threads: 2 });
  const inputs: Record<string, Float64Array> = {};
  for (const name of k1.inputs) inputs[name] = Float64Array.from({ length: k1.shapes[name]!.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37 + name.length) * 0.3);
  // as the examples' training loop runs it (models/compiled.ts): the scores, the loss and the
  // gradients into arrays reused by every step
  const out = () => ({ S: new Float64Array(batch * 10), L: new Float64Array(1), ...Object.fromEntries(wrt.map((w) => [`d${w}`, new Float64Array(inputs[w]!.length)])) });
  const [o1, o2] = [out(), out()];
  return { name: `MNIST CNN step, batch ${batch}`, op: 'forward+backward', dtype: 'f64', one: () => void k1.backward(inputs, {}, o1), two: () => k2.backward(inputs, {}, o2), dispose: () => k2.dispose() };
}

export async function threadsRows(opts: { quick: boolean; log: (l: string) => void }): Promise<{ rows: Row[]; info: Record<string, unknown> }> {
  const rows: Row[] = [];
  const info: Record<string, unknown> = {};
  const rounds = opts.quick ? 5 : 30;
  const speeds = coreSpeeds();
  if (speeds) {
    const bound = evenSharesBound(speeds, 2);
    info.coreSpeeds = { loopMs: speeds, evenSharesBound: bound };
    opts.log(`  each core on one register-only loop (taskset): ${speeds.map((ms, i) => `cpu${i} ${ms.toFixed(0)} ms`).join(', ')} — even shares on 2 threads reach at most ${bound.toFixed(2)}× one thread on the faster core`);
  }
  // a training step runs in a loop: the CNN is also timed over steps in a row (each sample the mean
  // of STEPS consecutive calls), where a worker finds the next call while it still spins parked
  const STEPS = 10;
  // the CNN step (4–10 ms) is sampled 4× as often as the matmul (30–60 ms): on a shared host its
  // median over 30 rounds moved by a fifth from one run to the next
  for (const [make, inRow, more] of [[() => matmulPair(opts.quick ? 512 : 1024), [1], 1], [() => cnnPair(32), [1, STEPS], 4]] as const) {
    const pair = make();
    // warm-up: the workers start, each kernel is compiled and has run often enough to be optimised —
    // in every worker as on the main thread (2 calls left the workers' JavaScript kernels cold)
    for (let w = 0; w < (opts.quick ? 2 : 10); w++) {
      pair.one();
      await pair.two();
    }
    for (const steps of inRow) {
      const { value: times, load } = await measured(async () => {
        const t1: number[] = [];
        const t2: number[] = [];
        for (let r = 0; r < rounds * more; r++) {
          const first = r % 2 === 0;
          for (const which of first ? [1, 2] : [2, 1]) {
            const t = performance.now();
            for (let s = 0; s < steps; s++) {
              if (which === 1) pair.one();
              else await pair.two();
            }
            (which === 1 ? t1 : t2).push((performance.now() - t) / steps);
          }
        }
        return { t1, t2 };
      });
      const m1 = median(times.t1);
      const m2 = median(times.t2);
      const how = steps > 1 ? `, ${steps} steps in a row` : '';
      const row = (variant: string, ms: number, all: number[]): Row => ({
        group: 'threads', case: pair.name, op: pair.op, impl: 'deltagrad', dtype: pair.dtype, variant: variant + how, status: 'ok',
        medianMs: ms, minMs: Math.min(...all), reps: all.length,
        ...(pair.flops ? { flops: pair.flops, gflops: pair.flops / ms / 1e6 } : {}),
      });
      rows.push(row('1 thread', m1, times.t1), row('2 threads', m2, times.t2));
      const free = load.otherCores === undefined ? 'unknown (no /proc/stat)' : load.otherCores < 0.25 ? 'yes' : `no: other processes used ${load.otherCores.toFixed(2)} cores`;
      info[pair.name + how] = { oneThreadMs: m1, twoThreadsMs: m2, ratio: m1 / m2, load, secondCoreFree: free };
      opts.log(
        `  ${pair.name}${how}: 1 thread ${m1.toFixed(1)} ms, 2 threads ${m2.toFixed(1)} ms — ${(m1 / m2).toFixed(2)}× ` +
          `(machine busy ${load.machineCores?.toFixed(2) ?? '?'} of ${cpus().length} cores, this process ${load.ownCores.toFixed(2)}; second core free: ${free}; ` +
          `load average ${load.loadavgBefore[0]!.toFixed(2)} → ${load.loadavgAfter[0]!.toFixed(2)})`,
      );
    }
    pair.dispose();
  }
  return { rows, info };
}
