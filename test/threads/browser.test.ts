// compile({ threads: 2 }) in Chromium: with the cross-origin isolation headers the kernels run on two
// Web Workers and give one thread's bits; without them the page has no SharedArrayBuffer and the
// kernel says it runs on one thread — the same bits, still behind Promises.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ISOLATION_HEADERS as ISOLATION, launch, serve } from '../browser/chromium.js';

async function run(headers: Record<string, string>) {
  const bundle = await build({ entryPoints: [fileURLToPath(new URL('./browserPage.ts', import.meta.url))], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent' });
  const site = await serve({ '/index.html': '<!doctype html><meta charset=utf-8><title>threads</title><script type=module src=/page.js></script>', '/page.js': bundle.outputFiles[0]!.text }, headers);
  try {
    const browser = await launch({ isolating: true });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e.stack ?? e.message)));
      await page.goto(site.url);
      await page.waitForFunction(() => (globalThis as { result?: unknown }).result !== undefined, undefined, { timeout: 60_000 });
      const result = await page.evaluate(() => (globalThis as unknown as { result: Record<string, unknown> }).result);
      return { result, errors };
    } finally {
      await browser.close();
    }
  } finally {
    await site.close();
  }
}

describe('threads in a browser', () => {
  it('a cross-origin isolated page runs the kernels (a GEMM; WebAssembly ReLU and max pooling over the shared memory) on 2 Web Workers, bitwise as one thread; a page without the headers on 1', async () => {
    const isolated = await run(ISOLATION);
    expect(isolated.errors).toEqual([]);
    expect(isolated.result).toMatchObject({ isolated: true, threads: 2, differing: 0 });
    const plain = await run({});
    expect(plain.errors).toEqual([]);
    expect(plain.result).toMatchObject({ isolated: false, threads: 1, differing: 0 });
  });
});
