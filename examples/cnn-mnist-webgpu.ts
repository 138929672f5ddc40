// npm run example:cnn-mnist-webgpu — the CNN of cnn-mnist trained with { target: 'webgpu' } in a
// headless Chromium (installed by npm: @sparticuz/chromium, driven by playwright-core). The page
// (examples/webgpu/cnnPage.ts) runs every layer, the gradients and the updates as WGSL compute shaders;
// this script only serves it the digits and prints what it reports. Here WebGPU runs on the CPU
// (SwiftShader, --enable-unsafe-webgpu): the accuracy is meaningful, the times are not.
// Flags: --epochs --batch --lr --seed --train --test (see --help).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { serve, withPage } from '../test/browser/chromium.js';
import { parseFlags } from './lib/cli.js';
import { loadDigits } from './lib/data.js';

const flags = parseFlags('cnn-mnist-webgpu', { epochs: 5, batch: 32, lr: 0.04 });
const data = loadDigits({ seed: flags.seed });
const train = Math.min(flags.train ?? data.train.n, data.train.n);
const test = Math.min(flags.test ?? data.test.n, data.test.n);
const bytes = new Uint8Array((train + test) * (784 + 1) * 4);
const images = new Float32Array(bytes.buffer, 0, (train + test) * 784);
images.set(data.train.x.subarray(0, train * 784));
images.set(data.test.x.subarray(0, test * 784), train * 784);
const labels = new Int32Array(bytes.buffer, (train + test) * 784 * 4, train + test);
labels.set(data.train.y.subarray(0, train));
labels.set(data.test.y.subarray(0, test), train);
const layer = (name: string) => readFileSync(fileURLToPath(new URL(`./layers/${name}.dg`, import.meta.url)), 'utf8');
const sources = Object.fromEntries(['conv2d', 'relu', 'maxpool2d', 'affine', 'softmax_xent', 'sgd_momentum'].map((n) => [n, layer(n)]));
const settings = { epochs: flags.epochs, batch: flags.batch, lr: flags.lr, lrDecay: 0.6, seed: flags.seed, train, test, sources };
console.log(`cnn-mnist-webgpu: ${train} training and ${test} held-out digits, ${flags.epochs} epochs, batch ${flags.batch}, lr ${flags.lr} (×0.6 per epoch), SGD with momentum 0.9, WebGPU in headless Chromium`);
const page = await build({ entryPoints: [fileURLToPath(new URL('./webgpu/cnnPage.ts', import.meta.url))], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent' });
const site = await serve({
  '/index.html': '<!doctype html><meta charset=utf-8><title>deltagrad CNN on WebGPU</title><script type=module src=/page.js></script>',
  '/page.js': page.outputFiles[0]!.text,
  '/settings.json': JSON.stringify(settings),
  '/digits.bin': bytes,
});
try {
  const result = await withPage(site.url, async (p) => {
    p.on('console', (m) => console.log(`  ${m.text()}`));
    await p.waitForFunction(() => (globalThis as { result?: unknown }).result !== undefined, undefined, { timeout: 0, polling: 1000 });
    return p.evaluate(() => (globalThis as unknown as { result: { error?: string; epochs?: { testAccuracy: number }[] } }).result);
  });
  if (result.error) throw new Error(result.error);
  console.log(`done: held-out accuracy ${result.epochs!.at(-1)?.testAccuracy.toFixed(2)}% after ${result.epochs!.length} epochs (WebGPU)`);
} finally {
  await site.close();
}
