// browser-threads (issue 19): deltagrad against jax-js at the same thread count, where jax-js runs
// threaded — in a browser page. The npm-shipped Chromium (test/browser/chromium.ts) opens one
// cross-origin isolated page (COOP/COEP headers: SharedArrayBuffer, Web Workers over shared memory)
// that times, interleaved and rotating, compile() and compile(src, { threads: 2 }) beside jax-js's
// WebAssembly backend with 1 and 2 workers on the shared cases (bench/browser/cases.ts, page.ts).
// Each deltagrad row's × jax-js is against jax-js at its own thread count.
// Where Chromium cannot start (or the page is not cross-origin isolated) the group is skipped, saying
// why. The machine's load is recorded: a 2 s sample before the browser starts (what other processes
// take) and the whole page run (the browser's processes against the rest).
//
// Worked example: npm run bench -- --only=browser-threads → rows like
//   matmul 1024³ fwd  deltagrad (2 threads) f32  38 ms  … × jax-js 1.10× (against jax-js (2 workers))
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { launch, ISOLATION_HEADERS, serve } from '../../test/browser/chromium.js';
import type { Row } from '../lib/cases.js';
import { cpuTimes, measured } from '../lib/load.js';
import type { PageResult } from '../browser/page.js';
import { cpus } from 'node:os';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The page and jax-js as two ES modules (the page imports jax-js twice, by two URLs). */
async function bundles(): Promise<{ page: string; jax: string }> {
  const common = { bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent' } as const;
  const page = await build({ ...common, entryPoints: [fileURLToPath(new URL('../browser/page.ts', import.meta.url))], external: ['/jax.js*'] });
  const jax = await build({ ...common, stdin: { contents: "export * from '@jax-js/jax';", resolveDir: root, loader: 'js' } });
  return { page: page.outputFiles[0]!.text, jax: jax.outputFiles[0]!.text };
}

/** Cores busy on the machine over `ms` (before the browser starts: what the other processes take). */
async function busyCores(ms: number): Promise<number | undefined> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  return a && b ? ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * cpus().length : undefined;
}

const skippedRow = (note: string): Row => ({ group: 'browser-threads', case: 'every case', op: '', impl: 'deltagrad', dtype: 'f32', status: 'skipped', note });

export async function browserThreadsRows(opts: { quick: boolean; log: (l: string) => void; page?: Record<string, string> }): Promise<{ rows: Row[]; info: Record<string, unknown> }> {
  const params = new URLSearchParams(opts.quick ? { quick: '1', rounds: '3', sampleMs: '5', warmupMs: '50', budgetMs: '2000' } : { rounds: '15', sampleMs: '20', warmupMs: '300', budgetMs: '20000' });
  // e.g. { tiny: '1' } (the test), { only: 'conv' }, { jit: 'all' } — see page.ts
  for (const [k, v] of Object.entries(opts.page ?? {})) params.set(k, v);
  const { page: pageJs, jax } = await bundles();
  const site = await serve({ '/index.html': '<!doctype html><meta charset=utf-8><title>browser-threads</title><script type=module src=/page.js></script>', '/page.js': pageJs, '/jax.js': jax }, ISOLATION_HEADERS);
  const otherBefore = await busyCores(opts.quick ? 500 : 2000);
  let browser: Awaited<ReturnType<typeof launch>>;
  try {
    browser = await launch({ isolating: true });
  } catch (e) {
    await site.close();
    const why = `skipped: the headless Chromium (@sparticuz/chromium + playwright-core) could not start — ${String((e as Error)?.message ?? e).split('\n')[0]}`;
    opts.log(`  browser-threads ${why}`);
    return { rows: [skippedRow(why)], info: { skipped: why } };
  }
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e.stack ?? e.message)));
    page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : opts.log(m.text())));
    const { value: result, load } = await measured(
      async () => {
        await page.goto(`${site.url}index.html?${params}`);
        await page.waitForFunction(() => (globalThis as { result?: unknown }).result !== undefined, undefined, { timeout: 600_000, polling: 500 });
        return page.evaluate(() => (globalThis as unknown as { result: PageResult | { error: string } }).result);
      },
      { children: true },
    );
    if ('error' in result) throw new Error(`the page failed: ${result.error}${errors.length ? `; ${errors.join('; ')}` : ''}`);
    if (!result.crossOriginIsolated) {
      const why = 'skipped: the page is not cross-origin isolated (no SharedArrayBuffer, so no threads to compare)';
      opts.log(`  browser-threads ${why}`);
      return { rows: [skippedRow(why)], info: { skipped: why } };
    }
    const rows: Row[] = [];
    const workers: Record<string, number> = {};
    for (const c of result.cases)
      for (const i of c.impls) {
        const label = `${i.threads} ${i.impl === 'deltagrad' ? 'thread' : 'worker'}${i.threads > 1 ? 's' : ''}`;
        workers[`${i.impl} (${label})`] = Math.max(workers[`${i.impl} (${label})`] ?? 0, i.workers);
        const base = { group: 'browser-threads', case: c.name, op: c.op, impl: i.impl, dtype: 'f32' as const, variant: label, threads: i.threads };
        if (i.error !== undefined || i.medianMs === undefined) {
          rows.push({ ...base, status: 'error', note: i.error ?? 'not timed' });
          continue;
        }
        rows.push({
          ...base,
          status: 'ok',
          medianMs: i.medianMs,
          minMs: i.minMs!,
          reps: i.samplesMs!.length,
          inner: i.inner!,
          ...(c.flops ? { flops: c.flops, gflops: c.flops / (i.medianMs * 1e6) } : {}),
          ...(i.relErr !== undefined ? { relErr: i.relErr } : {}),
          ...(c.note && i.impl === 'jax-js' ? { note: c.note } : {}),
        });
      }
    const summary =
      `Load: other processes took ${otherBefore?.toFixed(2) ?? '?'} of ${cpus().length} cores just before the browser started; over the page run the machine was busy ${load.machineCores?.toFixed(2) ?? '?'} cores, ` +
      `the bench and its browser ${load.ownCores.toFixed(2)}, other processes ${load.otherCores?.toFixed(2) ?? '?'} (load average ${load.loadavgBefore[0]!.toFixed(2)} → ${load.loadavgAfter[0]!.toFixed(2)}). ` +
      `Workers started per case: ${Object.entries(workers).map(([k, v]) => `${k} ${v}`).join(', ')} (the browser reports ${result.hardwareConcurrency} cores).`;
    opts.log(`  ${summary}`);
    const info = { summary, hardwareConcurrency: result.hardwareConcurrency, workersStarted: workers, otherCoresBefore: otherBefore, load, pageErrors: errors };
    return { rows, info };
  } finally {
    await browser.close();
    await site.close();
  }
}
