// A real headless Chromium for the browser tests, installed by npm alone: @sparticuz/chromium ships
// the binary (Chromium 147, unpacked into the temp directory on first use) and playwright-core drives
// it. Pages are served from http://localhost, a secure context (WebAssembly SIMD, WebGPU and module
// workers behave there as on a real site; a file:// page does not get them all).
//
// Worked example:
//   const site = await serve({ '/': '<script type=module src=app.js></script>', '/app.js': code });
//   const result = await withPage(site.url, (page) => page.waitForFunction(() => window.done));
//   await site.close();
// serveDirectory(dir) serves a built site (the playground) the same way.
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';
import chromium from '@sparticuz/chromium';
import { chromium as playwright, type Browser, type Page } from 'playwright-core';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.png': 'image/png',
};

export interface Site {
  url: string;
  close(): Promise<void>;
}

/** Serves fixed files (path → content) from http://localhost on a free port; `/` is index.html. */
export async function serve(files: Record<string, string | Uint8Array>, headers: Record<string, string> = {}): Promise<Site> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const body = files[path] ?? files[`${path.replace(/\/$/, '')}/index.html`];
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    const ext = path.endsWith('/') ? '.html' : path.slice(path.lastIndexOf('.'));
    res.writeHead(200, { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'cache-control': 'no-store', ...headers }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://localhost:${port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Serves a directory (a built static site) from http://localhost on a free port; `/` is index.html.
 *  A path that leaves the directory is 404, as is a missing file. */
export async function serveDirectory(dir: string, headers: Record<string, string> = {}): Promise<Site> {
  const root = normalize(dir);
  const server = createServer((req, res) => {
    let body: Buffer | undefined;
    let file = '';
    try {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
      file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
      if ((file === root || file.startsWith(root.endsWith(sep) ? root : root + sep)) && statSync(file).isFile()) body = readFileSync(file);
    } catch {
      body = undefined;
    }
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream', 'cache-control': 'no-store', ...headers }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}/`,
    // closeAllConnections: a page's keep-alive connections would otherwise hold close() open
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Flags @sparticuz/chromium adds for Lambda (one process, no site isolation, SharedArrayBuffer for
 *  every page, no web security) under which no page is ever cross-origin isolated. */
const NOT_ISOLATING = ['--single-process', '--disable-site-isolation-trials', '--disable-web-security', '--enable-features=SharedArrayBuffer'];

/** Launches the npm-shipped Chromium headless (WebGPU on: SwiftShader runs it on the CPU).
 *  `multiProcess`: without @sparticuz/chromium's --single-process (its flags are for one page in a
 *  Lambda), so that one browser holds several contexts — a second context crashes a single process.
 *  `isolating`: with the site isolation a cross-origin isolated page needs (COOP/COEP headers →
 *  crossOriginIsolated, SharedArrayBuffer, Web Workers over shared memory); implies multiProcess. */
export async function launch(opts: { multiProcess?: boolean; isolating?: boolean } = {}): Promise<Browser> {
  if (opts.isolating) {
    const args = chromium.args.filter((a) => !NOT_ISOLATING.includes(a)).map((a) => (a.startsWith('--disable-features=') ? '--disable-features=AudioServiceOutOfProcess' : a));
    return playwright.launch({ executablePath: await chromium.executablePath(), args, headless: true });
  }
  const args = opts.multiProcess ? chromium.args.filter((a) => a !== '--single-process') : chromium.args;
  return playwright.launch({ executablePath: await chromium.executablePath(), args: [...args, '--enable-unsafe-webgpu'], headless: true });
}

/** The headers that make a page cross-origin isolated (SharedArrayBuffer, threads). */
export const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } as const;

/** Opens url in a fresh browser, runs fn on the page and closes everything; page errors fail fn. */
export async function withPage<T>(url: string, fn: (page: Page, errors: string[]) => Promise<T>): Promise<T> {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e.stack ?? e.message)));
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    await page.goto(url);
    return await fn(page, errors);
  } finally {
    await browser.close();
  }
}
