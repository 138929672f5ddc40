// The playground end to end, in the npm-installed headless Chromium: the page built from a clean
// checkout (the build runs here), served from http://localhost, driven by the keyboard and mouse as a
// reader would — typing a program, a broken one, the conv example, the numeric check, the kernel, the
// share link, a phone-width screen, the keyboard alone, and offline. It measures the first load's
// gzipped size and the time from a keystroke to the typeset gradients, and keeps a screenshot under
// test-output/playground/ (gitignored).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPlayground, type BuildReport } from '../../playground/tools/build.js';
import { EXAMPLES } from '../../playground/src/examples.js';
import { launch, serveDirectory, type Site } from '../browser/chromium.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = join(ROOT, 'test-output/playground');
const AFFINE = 'Y[i,j] = A[i,k]*X[k,j] + B[i,j]';
const CONV = EXAMPLES.find((e) => e.id === 'conv2d')!.source;
const WAIT = { timeout: 20_000 };

// The page's globals that the callbacks below run with (this project compiles without the DOM library,
// which would let src/ use DOM names unnoticed); `keys` is the test's own, set by it in the page.
interface PageElement {
  readonly tagName: string;
  readonly classList: { contains(name: string): boolean };
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: {
  readonly activeElement: PageElement | null;
  readonly documentElement: { readonly scrollWidth: number };
  addEventListener(type: 'keydown', listener: (e: { readonly timeStamp: number }) => void, capture: boolean): void;
};
declare const window: { readonly innerWidth: number; keys: number[] };
declare const navigator: { readonly clipboard: { readText(): Promise<string> }; readonly serviceWorker?: { readonly controller: object | null } };
declare const location: { readonly hash: string };

let report: BuildReport;
let site: Site;
let browser: Browser;
let page: Page;
const errors: string[] = [];

async function newPage(viewport = { width: 1280, height: 900 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(site.url).origin });
  const p = await context.newPage();
  p.on('pageerror', (e) => errors.push(String(e.stack ?? e.message)));
  p.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  return p;
}

const card = (p: Page, gradient: string) => p.locator(`[data-gradient="${gradient}"]`);
const editorText = async (p: Page) => (await p.locator('.cm-content .cm-line').allTextContents()).join('\n');

/** Select the whole program and replace it: typed key by key, or pasted at once. */
async function replaceProgram(p: Page, text: string, how: 'type' | 'paste'): Promise<void> {
  await p.locator('.cm-content').click();
  await p.keyboard.press('Control+A');
  if (how === 'type') await p.keyboard.type(text);
  else await p.keyboard.insertText(text);
}

beforeAll(async () => {
  report = await buildPlayground(join(OUT, 'site'));
  site = await serveDirectory(report.outDir);
  browser = await launch({ multiProcess: true });
  page = await newPage();
  await page.goto(site.url);
  await card(page, 'dX').waitFor(WAIT);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

describe('the playground in headless Chromium', () => {
  it('the first load is under 500 KB gzipped (KaTeX fonts aside), and the build is byte for byte repeatable', async () => {
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
    console.log(`playground first load: ${kb(report.firstLoadGzip)} gzipped (${report.files.filter((f) => f.kind === 'first load').map((f) => `${f.path} ${kb(f.gzipBytes)}`).join(', ')}); KaTeX fonts ${kb(report.fontsGzip)}`);
    expect(report.firstLoadGzip).toBeLessThan(500 * 1024);
    expect(report.files.map((f) => f.path)).toContain('sw.js');
    const again = await buildPlayground(join(OUT, 'site-again'));
    expect(again.version).toBe(report.version);
    expect(again.files).toEqual(report.files);
  });

  it('typing Y[i,j] = A[i,k]*X[k,j] + B[i,j] typesets dX = Aᵀ·dY', async () => {
    await replaceProgram(page, AFFINE, 'type');
    expect(await editorText(page)).toBe(AFFINE);
    const dX = card(page, 'dX');
    await expect.poll(() => dX.locator('.matrix-text').textContent(), WAIT).toBe('dX = Aᵀ·dY');
    // typeset by KaTeX: the formula's TeX (its MathML annotation) and the glyphs it drew
    expect(await dX.locator('.matrix-form annotation').textContent()).toBe('\\mathrm{d}X = A^{\\top} \\, \\mathrm{d}Y');
    expect(await dX.locator('.matrix-form .katex-html').textContent()).toMatch(/^dX=A⊤dY$/);
    expect(await dX.locator('.index-form annotation').textContent()).toBe('\\mathrm{d}X_{k,j} = \\sum_{i} A_{i,k} \\, \\mathrm{d}Y_{i,j}');
    expect(await page.locator('[data-gradient]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-gradient')))).toEqual(['dA', 'dX', 'dB']);
    // the derivation, collapsed until opened
    const steps = dX.locator('details.steps');
    expect(await steps.locator('pre').isVisible()).toBe(false);
    await steps.locator('summary').click();
    expect(await steps.locator('pre').textContent()).toContain('δ(');
    expect(errors).toEqual([]);
  });

  it('a broken program: the diagnostic on its line, with line:col and the hint', async () => {
    await replaceProgram(page, 'dims N=3\nY[i] = X[i] * 2\nZ[i] = Y[i] + frob(X[i])\nW[i] = Z[i]', 'paste');
    const mark = page.locator('.cm-lintRange-error');
    await mark.waitFor(WAIT);
    // the marked text, and the editor line it is on (the third)
    expect(await mark.textContent()).toBe('frob(X[i])');
    expect(await mark.evaluate((m) => [...m.closest('.cm-content')!.querySelectorAll('.cm-line')].indexOf(m.closest('.cm-line')!))).toBe(2);
    const problem = await page.locator('#problem').textContent();
    expect(problem).toMatch(/^<program>:3:15: error: unknown function: frob/);
    expect(problem).toContain('\nhint: ');
    expect(await page.locator('.cm-lint-marker-error').count()).toBe(1);
    expect(await page.locator('#status').textContent()).toMatch(/^Error at line 3, column 15/);
    expect(await page.locator('[data-gradient]').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('the conv example shows dX as the correlation with the flipped kernel K̃', async () => {
    await page.selectOption('#example', 'conv2d');
    const dX = card(page, 'dX');
    await expect.poll(() => dX.locator('.matrix-text').textContent(), WAIT).toContain('flipped, channel-transposed kernel K̃[c,f,i,j] = K[f,c,R-1-i,S-1-j]');
    expect(await dX.locator('.matrix-form annotation').textContent()).toContain('\\tilde{K}_{c,f,i,j} = K_{f,c,R-1-i,S-1-j}');
    expect(await editorText(page)).toBe(CONV);
    expect(await page.locator('.cm-lintRange-error').count()).toBe(0);
  });

  it('the numeric check compiles the kernels in the page and passes against central differences', async () => {
    await page.getByRole('button', { name: 'Run the check' }).click();
    const verdict = page.locator('.verdict');
    await verdict.waitFor(WAIT);
    expect(await verdict.textContent()).toMatch(/^Passed: the kernels agree with central differences \(max error \S+ < 1\.0e-6\)\.$/);
    const maxError = Number(await verdict.getAttribute('data-max-error'));
    console.log(`playground numeric check (conv2d at ${await page.locator('.check-table caption').textContent()}): max error ${maxError.toExponential(2)}`);
    expect(maxError).toBeLessThan(1e-6);
    expect(await page.locator('.check-table tbody th').allTextContents()).toEqual(['dX', 'dK', 'db']);
    expect(await page.locator('.check-table tbody td.pass').count()).toBe(3);
    // the artifact: the top of the page as a reader first sees it
    mkdirSync(OUT, { recursive: true });
    await page.locator('h1').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(OUT, 'playground.png') });
    expect(errors).toEqual([]);
  });

  it("evaluate at a point: seed 002's f = (x+y)z at (−2, 5, −4) is −12, ∇f = (−4, −4, 3)", async () => {
    await page.selectOption('#example', 'chain-rule');
    const values = page.locator('#point-values tbody tr');
    await expect.poll(() => values.allInnerTexts(), WAIT).toEqual(['q\t3', 'f\t-12', 'dq\t-4', 'dx\t-4', 'dy\t-4', 'dz\t3']);
    // a value typed in recomputes them
    await page.locator('#point-inputs input[name=z]').fill('2');
    await expect.poll(() => values.allInnerTexts(), WAIT).toEqual(['q\t3', 'f\t6', 'dq\t2', 'dx\t2', 'dy\t2', 'dz\t3']);
    expect(await page.locator('#point').isVisible()).toBe(true);
    await page.selectOption('#example', 'conv2d');
    await card(page, 'dK').waitFor(WAIT);
    expect(await page.locator('#point').isVisible()).toBe(false);
  });

  it('the kernel in TypeScript and JavaScript, copied with its button; the runnable backward program', async () => {
    await page.locator('#kernel-panel summary').click();
    const code = page.locator('#kernel-code');
    await expect.poll(() => code.textContent(), WAIT).toContain('export function backward(');
    expect(await code.textContent()).toContain('type $Gemm');
    await page.selectOption('#kernel-target', 'js');
    await expect.poll(() => code.textContent(), WAIT).not.toContain('type $Gemm');
    const js = (await code.textContent())!;
    expect(js).toContain('export function backward(');
    await page.locator('#kernel-copy').click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(js);
    await page.locator('#program-panel summary').click();
    const program = (await page.locator('#program-code').textContent())!;
    expect(program).toContain('# gradients (deltagrad)');
    expect(program).toContain('dX[n,c,h,w] = sum(f,u,v) K[f,c,h+P-u*T,w+P-v*T]*dY[n,f,u,v]');
  });

  it('typesetting a seed layer after a keystroke: the median of 9 keystrokes (logged)', async () => {
    await page.locator('.cm-content').click();
    await page.keyboard.press('Control+End');
    await page.evaluate(() => {
      window.keys = [];
      document.addEventListener('keydown', (e) => window.keys.push(e.timeStamp), true);
    });
    // the page keeps its latest typeset mark: a new time is a new typesetting
    const lastMark = () => page.evaluate(() => performance.getEntriesByName('deltagrad:typeset')[0]?.startTime ?? -1);
    const latencies: number[] = [];
    for (let k = 0; k < 9; k++) {
      const before = await lastMark();
      await page.keyboard.press(k % 2 ? 'Backspace' : 'x');
      await page.waitForFunction((t) => (performance.getEntriesByName('deltagrad:typeset')[0]?.startTime ?? -1) > t, before, WAIT);
      latencies.push(
        await page.evaluate(() => {
          const keys = window.keys;
          return performance.getEntriesByName('deltagrad:typeset')[0]!.startTime - keys[keys.length - 1]!;
        }),
      );
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(`playground typesetting latency (conv2d, keystroke → gradients typeset): median ${median.toFixed(1)} ms; all ${latencies.map((l) => l.toFixed(0)).join(', ')} ms`);
    expect(await editorText(page)).toBe(CONV.replace(/\n$/, '\nx'));
    expect(median).toBeLessThan(100);
  });

  it('the share link reopens the same state: program, inputs chosen, sizes, kernel language', async () => {
    await page.keyboard.press('Backspace');
    await page.getByRole('checkbox', { name: /^b / }).uncheck();
    await expect.poll(() => card(page, 'db').count(), WAIT).toBe(0);
    const H = page.locator('#sizes input[name=H]');
    await H.fill('6');
    await expect.poll(() => page.evaluate(() => location.hash), WAIT).toContain('H%3A6');
    const link = page.url();
    const other = await newPage();
    await other.goto(link);
    await card(other, 'dX').waitFor(WAIT);
    expect(await editorText(other)).toBe(await editorText(page));
    expect(await other.locator('[data-gradient]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-gradient')))).toEqual(['dX', 'dK']);
    expect(await other.getByRole('checkbox', { name: /^b / }).isChecked()).toBe(false);
    expect(await other.locator('#sizes input[name=H]').inputValue()).toBe('6');
    expect(await other.locator('#kernel-target').inputValue()).toBe('js');
    expect(await other.locator('#example').inputValue()).toBe('conv2d');
    // and a reload of it, too
    await other.reload();
    await card(other, 'dK').waitFor(WAIT);
    expect(await other.locator('#sizes input[name=H]').inputValue()).toBe('6');
    await other.context().close();
    expect(errors).toEqual([]);
  });

  it('a bad link: a clear message for each bad field, the rest loaded, no exception', async () => {
    const p = await newPage();
    await p.goto(`${site.url}#src=Y%5Bi%5D%20%3D%202*X%5Bi%5D&sizes=N:-1&zap=%3Cimg%20src=x%20onerror=alert(1)%3E&at=%E0%A4%A`);
    await card(p, 'dX').waitFor(WAIT);
    const notice = p.locator('#notice');
    expect(await notice.isVisible()).toBe(true);
    expect(await notice.locator('li').allTextContents()).toEqual([
      'the link has a field "zap" this page does not know (ignored)',
      'sizes: "N:-1" is not name:whole number (the size is ignored)',
      'at: "\uFFFD%A" is not name:number (the value is ignored)',
    ]);
    // untrusted text stays text
    expect(await p.locator('img').count()).toBe(0);
    await p.context().close();
    expect(errors).toEqual([]);
  });

  it('on a phone-width screen: one column, nothing wider than the screen', async () => {
    const phone = await newPage({ width: 390, height: 844 });
    await phone.goto(`${site.url}#src=${encodeURIComponent(CONV)}`);
    await card(phone, 'dX').waitFor(WAIT);
    const widths = await phone.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
    expect(widths.page).toBeLessThanOrEqual(widths.screen);
    const editor = (await phone.locator('.cm-editor').boundingBox())!;
    const gradients = (await phone.locator('#gradients').boundingBox())!;
    expect(editor.x + editor.width).toBeLessThanOrEqual(390);
    expect(gradients.y).toBeGreaterThan(editor.y + editor.height);
    await phone.screenshot({ path: join(OUT, 'playground-phone.png') });
    await phone.context().close();
  });

  it('keyboard alone: Tab reaches every control, the editor lets Tab go, Enter runs the check', async () => {
    const p = await newPage();
    await p.goto(`${site.url}#src=${encodeURIComponent(AFFINE)}`);
    await card(p, 'dX').waitFor(WAIT);
    const seen: string[] = [];
    for (let i = 0; i < 30 && !seen.includes('button:Run the check'); i++) {
      await p.keyboard.press('Tab');
      seen.push(await p.evaluate(() => {
        const el = document.activeElement!;
        return el.classList.contains('cm-content') ? 'editor' : `${el.tagName.toLowerCase()}:${el.getAttribute('aria-label') ?? el.textContent?.trim() ?? ''}`;
      }));
    }
    const order = ['a:Skip to the gradients', 'select:', 'button:Copy link', 'editor', 'input:', 'button:Run the check'];
    const at = order.map((o) => seen.findIndex((s) => (o.endsWith(':') ? s.startsWith(o) : s === o)));
    expect(at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]!)), seen.join(' → ')).toBe(true);
    await p.keyboard.press('Enter');
    await expect.poll(() => p.locator('.verdict').textContent(), WAIT).toMatch(/^Passed/);
    await p.context().close();
    expect(errors).toEqual([]);
  });

  it('works offline once loaded: the service worker serves the page with the server gone', async () => {
    await page.waitForFunction(() => navigator.serviceWorker?.controller !== null, undefined, WAIT);
    await site.close();
    await page.reload();
    await card(page, 'dX').waitFor(WAIT);
    expect(await editorText(page)).toBe(CONV);
    expect(await page.locator('.katex').count()).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });
});
