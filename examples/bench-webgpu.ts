// npm run bench:webgpu — deltagrad's WebGPU kernels against TF.js's WebGPU backend on one page
// (examples/webgpu/benchPage.ts): a dense layer and a 3×3 convolution, forward and every gradient.
//   --serve       only serve the page (open the printed URL in a browser with a GPU)
//   --small       small sizes (a smoke run)
// Without --serve it runs in the npm-installed headless Chromium, where WebGPU is SwiftShader on the
// CPU: the check that both agree is meaningful there, the times are not performance numbers.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { serve, withPage } from '../test/browser/chromium.js';

const args = process.argv.slice(2);
const layer = (name: string) => readFileSync(fileURLToPath(new URL(`./layers/${name}.dg`, import.meta.url)), 'utf8');
const page = await build({ entryPoints: [fileURLToPath(new URL('./webgpu/benchPage.ts', import.meta.url))], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent' });
const site = await serve({
  '/index.html': '<!doctype html><meta charset=utf-8><title>deltagrad vs TF.js, WebGPU</title><p>running…</p><script type=module src=/page.js></script>',
  '/page.js': page.outputFiles[0]!.text,
  '/sources.json': JSON.stringify({ affine: layer('affine'), conv2d: layer('conv2d') }),
});
const query = args.includes('--small') ? '?small&runs=3' : '';
if (args.includes('--serve')) {
  console.log(`open ${site.url}${query} in a browser with WebGPU (Ctrl-C to stop)`);
} else {
  try {
    const result = await withPage(`${site.url}${query}`, async (p) => {
      await p.waitForFunction(() => (globalThis as { result?: unknown }).result !== undefined, undefined, { timeout: 0, polling: 500 });
      return p.evaluate(() => (globalThis as unknown as { result: { error?: string; rows?: string[] } }).result);
    });
    if (result.error) throw new Error(result.error);
    console.log('headless Chromium, WebGPU on SwiftShader (the CPU): these times are NOT performance numbers');
    for (const r of result.rows!) console.log(`  ${r}`);
  } finally {
    await site.close();
  }
}
