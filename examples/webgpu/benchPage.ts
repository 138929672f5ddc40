// The WebGPU benchmark page (served by examples/bench-webgpu.ts): deltagrad's WebGPU kernels and
// TF.js's WebGPU backend on the same page, the same data and the same device kind — a dense layer
// and a convolution, forward and every gradient, each timed as the median of several runs that end
// with a read-back of the results. It checks first that both give the same numbers. On a machine
// without a GPU (headless Chromium with SwiftShader) the times are of a CPU emulation: not
// performance numbers.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-webgpu';
import { compile, requestGpuDevice, type GpuKernel } from '../../src/index.js';

interface Case {
  readonly name: string;
  readonly source: string;
  readonly sizes: Record<string, number>;
  /** the same layer in TF.js: forward and the gradients, given the inputs and the upstream gradient */
  readonly tfjs: (t: Record<string, tf.Tensor>, dY: tf.Tensor) => tf.Tensor[];
  readonly flops: number;
}

// the page's globals (the project's types have no DOM library)
const page = globalThis as unknown as {
  location: { search: string };
  navigator: { gpu: { requestAdapter(): Promise<{ info?: { vendor: string; architecture: string; description: string } } | null> } };
  document: { body: { textContent: string } };
};
const params = new URLSearchParams(page.location.search);
const runs = Number(params.get('runs') ?? 10);
const small = params.has('small');

function cases(sources: Record<string, string>): Case[] {
  const [N, D, F] = small ? [16, 32, 24] : [256, 1024, 1024];
  const [n, c, h, f] = small ? [2, 3, 8, 4] : [32, 16, 32, 32];
  return [
    {
      name: `dense ${N}×${D} → ${F}`,
      source: sources.affine!,
      sizes: { N, D, F },
      flops: 3 * 2 * N * D * F,
      tfjs: (t, dY) => {
        const g = tf.grads((X: tf.Tensor, W: tf.Tensor, b: tf.Tensor) => tf.add(tf.matMul(X, W, false, true), b));
        return g([tf.reshape(t.X!, [N, D]), tf.reshape(t.W!, [F, D]), t.b!], tf.reshape(dY, [N, F]));
      },
    },
    {
      name: `conv 3×3 pad 1, ${n}×${c}×${h}×${h} → ${f} channels`,
      source: sources.conv2d!,
      sizes: { N: n, C: c, H: h, W: h, F: f },
      flops: 3 * 2 * n * f * h * h * c * 9,
      tfjs: (t, dY) => {
        // TF.js convolutions are NHWC with HWIO filters: transposed in, the gradients transposed back
        const g = tf.grads((X: tf.Tensor, K: tf.Tensor, b: tf.Tensor) => tf.add(tf.conv2d(X as tf.Tensor4D, K as tf.Tensor4D, 1, 'same'), b));
        const nchw = (x: tf.Tensor, shape: number[], perm: number[]) => tf.transpose(tf.reshape(x, shape), perm);
        const [dX, dK, db] = g([nchw(t.X!, [n, c, h, h], [0, 2, 3, 1]), nchw(t.K!, [f, c, 3, 3], [2, 3, 1, 0]), t.b!], nchw(dY, [n, f, h, h], [0, 2, 3, 1]));
        return [tf.transpose(dX!, [0, 3, 1, 2]), tf.transpose(dK!, [3, 2, 0, 1]), db!];
      },
    },
  ];
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const random = (len: number, seed: number) => {
  let s = seed;
  return Float32Array.from({ length: len }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
};

async function main(): Promise<{ rows: string[] }> {
  const sources = (await (await fetch('/sources.json')).json()) as Record<string, string>;
  await tf.setBackend('webgpu');
  await tf.ready();
  const device = await requestGpuDevice();
  const rows: string[] = [];
  for (const cs of cases(sources)) {
    const k = compile(cs.source, { target: 'webgpu', sizes: cs.sizes, device });
    const g: GpuKernel = await k.gpu();
    const data: Record<string, Float32Array> = Object.fromEntries(k.inputs.map((name, i) => [name, random(k.shapes[name]!.reduce((a, b) => a * b, 1), i + 1)]));
    const dYdata = random(k.shapes.Y!.reduce((a, b) => a * b, 1), 99);
    const gpuIn = Object.fromEntries(Object.entries(data).map(([name, v]) => [name, g.tensor(name, v)]));
    const dY = g.tensor('dY', dYdata);
    const tfIn = Object.fromEntries(Object.entries(data).map(([name, v]) => [name, tf.tensor(v)]));
    const tfdY = tf.tensor(dYdata);
    const ours = async () => {
      const f = g.forward(gpuIn);
      const grads = g.backward(gpuIn, { dY }, { forward: f });
      const out = await Promise.all(k.inputs.map((name) => grads[`d${name}`]!.read()));
      for (const t of [...Object.values(f), ...Object.values(grads)]) t.destroy();
      return out;
    };
    const theirs = async () => {
      const out = cs.tfjs(tfIn, tfdY);
      const arrays = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
      tf.dispose(out);
      return arrays;
    };
    // the same numbers first (float32 on both sides: a relative error near 1e-6 is expected)
    const [a, b] = [await ours(), await theirs()];
    const worst = Math.max(
      ...a.map((x, i) => {
        const y = b[i]!;
        let num = 0;
        let den = 0;
        for (let j = 0; j < x.length; j++) {
          num += (x[j]! - y[j]!) ** 2;
          den += y[j]! ** 2;
        }
        return Math.sqrt(num / (den || 1));
      }),
    );
    const times: [number[], number[]] = [[], []];
    for (let r = 0; r < runs; r++) {
      // alternate which goes first
      for (const which of r % 2 ? [1, 0] : [0, 1]) {
        const t0 = performance.now();
        await (which === 0 ? ours() : theirs());
        times[which]!.push(performance.now() - t0);
      }
    }
    const [us, them] = times.map(median) as [number, number];
    rows.push(`${cs.name}: deltagrad ${us.toFixed(2)} ms (${(cs.flops / us / 1e6).toFixed(1)} GFLOP/s), TF.js WebGPU ${them.toFixed(2)} ms (${(cs.flops / them / 1e6).toFixed(1)} GFLOP/s); gradients agree to ${worst.toExponential(1)}`);
    tf.dispose([...Object.values(tfIn), tfdY]);
  }
  const adapter = await page.navigator.gpu.requestAdapter();
  rows.push(`adapter: ${JSON.stringify(adapter?.info ?? {})}`);
  page.document.body.textContent = rows.join('\n');
  return { rows };
}

main().then(
  (r) => Object.assign(globalThis, { result: r }),
  (e: unknown) => Object.assign(globalThis, { result: { error: String((e as Error)?.stack ?? e) } }),
);
