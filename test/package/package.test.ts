// The package as users consume it: `npm pack` (which builds dist/), the tarball installed into a
// fresh plain-JavaScript project, then
//   (a) plain Node 20 ESM imports deltagrad and deltagrad/generated and gets the right numbers, and
//       `npx derive` runs;
//   (b) tsc builds a typed consumer (strict, skipLibCheck false, no @types/node; node16 and bundler
//       resolution);
//   (c) a page bundled with esbuild runs derive, compile (conv forward and backward), evaluate and a
//       generated kernel in a real headless Chromium.
// The numbers are checked against deltagrad's reference interpreter (evaluate of derive's program),
// in the consumer itself, by test/package/consumer.mjs.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForBrowser, installTarball, packPackage, root, treeSize, userEnv, type Packed } from '../../scripts/packageTools.js';
import { serve, withPage } from '../browser/chromium.js';

const KB = 1024;
let dir = '';
let pack: Packed;
let app = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'deltagrad-package-'));
  pack = packPackage(dir);
  app = installTarball(dir, pack.tarball);
  copyFileSync(join(root, 'test/package/consumer.mjs'), join(app, 'consumer.mjs'));
  copyFileSync(join(root, 'examples/layers/conv2d.dg'), join(app, 'conv2d.dg'));
}, 300_000);
afterAll(() => void (dir && rmSync(dir, { recursive: true, force: true })));

type Checked = { matrix: string; errors: Record<'compiled' | 'generated', Record<string, number>>; lengths: number[]; sample: number[] };
function expectRight(r: Checked) {
  expect(r.matrix).toBe('dX = Aᵀ·dY');
  expect(r.lengths).toEqual([2 * 4 * 4 * 3, 2 * 3 * 7 * 6, 4 * 3 * 3 * 3, 4]);
  for (const [what, errs] of Object.entries(r.errors)) for (const [t, e] of Object.entries(errs)) expect(e, `${what} ${t}`).toBeLessThan(1e-12);
}

describe('the tarball', () => {
  it('holds the built package and nothing users do not need', () => {
    const paths = pack.files.map((f) => f.path);
    expect(paths).toContain('dist/src/index.js');
    expect(paths).toContain('dist/src/index.d.ts');
    expect(paths).toContain('dist/generated/conv2d.js');
    expect(paths).toContain('dist/src/bin/derive.js');
    const stray = paths.filter((p) => !/^(dist\/(src|generated)\/.*\.(js|d\.ts)|README\.md|LICENSE|package\.json)$/.test(p));
    expect(stray, 'files besides the build, README, LICENSE and package.json').toEqual([]);
    expect(paths.some((p) => /\.ts$/.test(p) && !p.endsWith('.d.ts')), 'TypeScript sources').toBe(false);
    console.info(`tarball: ${pack.files.length} files, ${(pack.size / KB).toFixed(0)} KB packed, ${(pack.unpackedSize / KB).toFixed(0)} KB unpacked`);
  });

  it('installs with no dependency, in at most 1 MB', () => {
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules/deltagrad/package.json'), 'utf8'));
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.peerDependencies ?? {}).toEqual({});
    const installed = spawnSync('npm', ['ls', '--all', '--parseable'], { cwd: app, env: userEnv(), encoding: 'utf8' }).stdout.trim().split('\n');
    expect(installed.map((p) => p.slice(app.length))).toEqual(['', '/node_modules/deltagrad']);
    const bytes = treeSize(join(app, 'node_modules'));
    console.info(`installed: ${(bytes / KB).toFixed(0)} KB in node_modules`);
    expect(bytes).toBeLessThanOrEqual(1024 * KB);
  });
});

describe('(a) plain Node', () => {
  it('imports deltagrad and deltagrad/generated without a loader and computes the right numbers', () => {
    writeFileSync(
      join(app, 'app.mjs'),
      `import { readFileSync } from 'node:fs';
import { derive, compile, evaluate } from 'deltagrad';
import { conv2d } from 'deltagrad/generated';
import * as conv2dKernels from 'deltagrad/generated/conv2d';
import { check } from './consumer.mjs';
const r = check(derive, compile, evaluate, conv2d, readFileSync('conv2d.dg', 'utf8'));
console.log(JSON.stringify({ ...r, kernels: typeof conv2dKernels.backward_dX }));
`,
    );
    const out = execFileSync(process.execPath, ['app.mjs'], { cwd: app, env: userEnv(), encoding: 'utf8' });
    const r = JSON.parse(out) as Checked & { kernels: string };
    expectRight(r);
    expect(r.kernels).toBe('function');
  });

  it('`npx derive -e …` runs the installed bin', () => {
    const r = spawnSync('npx', ['--offline', 'derive', '-e', 'f = x*y', '--at', 'x=2,y=3'], { cwd: app, env: userEnv(), encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('f = 6\ndx = 3\ndy = 2\n');
    expect(r.status).toBe(0);
    const bad = spawnSync('npx', ['--offline', 'derive', '-e', 'Y[i] = X[i'], { cwd: app, env: userEnv(), encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^<program>:1:11: error: /);
  });
});

describe('(b) a TypeScript consumer', () => {
  const consumer = `import { derive, compile, evaluate, emit, type Kernel, type DeriveResult } from 'deltagrad';
import { conv2d, affine } from 'deltagrad/generated';
const r: DeriveResult = derive('Y[i,j] = A[i,k]*X[k,j] + B[i,j]', { wrt: ['X'] });
const matrix: string | null | undefined = r.gradients['X']?.matrix;
const k: Kernel = compile('Y[i] = X[i]*X[i]', { sizes: { I: 3 }, dtype: 'float32' });
const y: Float32Array | Float64Array | undefined = k.forward({ X: new Float32Array(3) })['Y'];
const values: Record<string, Float64Array> = evaluate('f = x*y', { x: 2, y: 3 });
const text: string = emit('Y[i] = X[i]', { target: 'js' });
const ctx = {};
const { Y } = conv2d.forward(ctx, { X: new Float64Array(16), K: new Float64Array(9), b: new Float64Array(1) }, { N: 1, C: 1, H: 4, W: 4, F: 1 });
const back = affine.backward;
// the types are real: each of these is an error
// @ts-expect-error an unknown dtype
compile('Y[i] = X[i]', { dtype: 'int8' });
// @ts-expect-error derive takes a string
derive(42);
export { matrix, y, values, text, Y, back };
`;
  for (const resolution of ['node16', 'bundler'] as const)
    it(`type-checks with moduleResolution ${resolution}, strict, skipLibCheck false, no @types/node`, () => {
      writeFileSync(join(app, `consumer-${resolution}.ts`), consumer);
      const config = {
        compilerOptions: {
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          target: 'ES2022',
          lib: ['ES2022'],
          types: [],
          module: resolution === 'node16' ? 'node16' : 'esnext',
          moduleResolution: resolution,
        },
        files: [`consumer-${resolution}.ts`],
      };
      writeFileSync(join(app, `tsconfig.${resolution}.json`), JSON.stringify(config, null, 2));
      const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', `tsconfig.${resolution}.json`, '--listFilesOnly'], { cwd: app, encoding: 'utf8' });
      const files = r.stdout.trim().split('\n');
      expect(files.some((f) => f.includes('node_modules/deltagrad/dist/src/index.d.ts'))).toBe(true);
      expect(files.filter((f) => /node_modules\/deltagrad\/.*\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
      expect(files.filter((f) => f.includes('@types/node'))).toEqual([]);
      const check = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', `tsconfig.${resolution}.json`], { cwd: app, encoding: 'utf8' });
      expect(check.stdout + check.stderr).toBe('');
      expect(check.status).toBe(0);
    });
});

describe('(c) a browser, through a bundler', () => {
  it('derive, compile (conv forward and backward), evaluate and a generated kernel run in headless Chromium', async () => {
    const bundle = await bundleForBrowser(
      app,
      `import { derive, compile, evaluate } from 'deltagrad';
import { conv2d } from 'deltagrad/generated';
import { check } from './consumer.mjs';
const source = ${JSON.stringify(readFileSync(join(app, 'conv2d.dg'), 'utf8'))};
try { window.result = check(derive, compile, evaluate, conv2d, source); } catch (e) { window.result = { error: String(e && e.stack || e) }; }`,
    );
    expect(bundle.modules.some((m) => m.startsWith('dist/src/bin/') || m === 'dist/src/cli.js'), 'the CLI in a browser bundle').toBe(false);
    const site = await serve({ '/index.html': '<!doctype html><meta charset=utf-8><title>deltagrad</title><script type=module src=/app.js></script>', '/app.js': bundle.code });
    try {
      const { result, errors } = await withPage(site.url, async (page, errors) => {
        await page.waitForFunction(() => (globalThis as unknown as { result?: unknown }).result !== undefined, undefined, { timeout: 30_000 });
        return { result: await page.evaluate(() => (globalThis as unknown as { result: Checked & { error?: string } }).result), errors };
      });
      expect(errors).toEqual([]);
      expect(result.error).toBeUndefined();
      expectRight(result);
      // the same numbers as Node computes from the same package (to rounding: Chromium 147's V8 is not
      // Node 20's, and Math.sin, which makes the data, may differ in the last bit)
      const node = JSON.parse(
        execFileSync(process.execPath, ['--input-type=module', '-e', `import { readFileSync } from 'node:fs'; import { derive, compile, evaluate } from 'deltagrad'; import { conv2d } from 'deltagrad/generated'; import { check } from './consumer.mjs'; console.log(JSON.stringify(check(derive, compile, evaluate, conv2d, readFileSync('conv2d.dg', 'utf8'))));`], { cwd: app, env: userEnv(), encoding: 'utf8' }),
      ) as Checked;
      result.sample.forEach((v, i) => expect(Math.abs(v - node.sample[i]!), `sample ${i}`).toBeLessThan(1e-12 * Math.max(1, Math.abs(node.sample[i]!))));
    } finally {
      await site.close();
    }
  }, 120_000);

  // The CSP path (README, docs/package.md): no `new Function` (no 'unsafe-eval') leaves the generated
  // kernels and emitted ES modules; their WebAssembly micro-kernel needs 'wasm-unsafe-eval', and
  // without even that a module emitted with { simd: false } is plain JavaScript.
  const cspPage = async (policy: string, simd: boolean) => {
    // the user's build step: emit the conv layer as an ES module with the installed package
    const emitted = `conv2d.${simd ? 'simd' : 'plain'}.mjs`;
    execFileSync(process.execPath, ['--input-type=module', '-e', `import { readFileSync, writeFileSync } from 'node:fs'; import { emit } from 'deltagrad'; writeFileSync('${emitted}', emit(readFileSync('conv2d.dg', 'utf8'), { target: 'js', simd: ${simd} }));`], { cwd: app, env: userEnv() });
    const bundle = await bundleForBrowser(
      app,
      `import { compile } from 'deltagrad';
import { conv2d } from 'deltagrad/generated';
import * as kernels from './${emitted}';
const sizes = { N: 2, C: 3, H: 7, W: 6, F: 4, R: 3, S: 3, P: 1, T: 2 };
const shapes = kernels.shapes(sizes);
const fill = (name, f) => Float64Array.from({ length: shapes[name].reduce((a, b) => a * b, 1) }, (_, i) => f(i));
const message = (f) => { try { f(); return ''; } catch (e) { return e.message; } };
const run = () => {
  const t = Object.fromEntries(Object.keys(shapes).map((n) => [n, fill(n, () => 0)]));
  for (const d of ['dX', 'dK', 'db', 'dY']) t[d] = fill(d.slice(1), () => 0);
  t.X = fill('X', Math.sin); t.K = fill('K', (i) => Math.cos(2 * i)); t.b = fill('b', (i) => i / 3);
  kernels.forward(t, sizes);
  t.dY = fill('Y', (i) => Math.cos(3 * i));
  kernels.backward(t, sizes);
  const ctx = {};
  let generated = null;
  const generatedError = message(() => { generated = { ...conv2d.forward(ctx, { X: t.X, K: t.K, b: t.b }, sizes), ...conv2d.backward(ctx, { dY: t.dY }) }; });
  return { emitted: { Y: [...t.Y], dX: [...t.dX], dK: [...t.dK], db: [...t.db] }, generated: generated && Object.fromEntries(Object.entries(generated).map(([k, v]) => [k, [...v]])), generatedError, compileError: message(() => compile('Y[i] = X[i]', { sizes: { I: 2 } })) };
};
try { window.result = run(); } catch (e) { window.result = { error: String(e && e.stack || e) }; }`,
    );
    const site = await serve(
      { '/index.html': '<!doctype html><meta charset=utf-8><title>deltagrad, CSP</title><script type=module src=/app.js></script>', '/app.js': bundle.code },
      { 'content-security-policy': policy },
    );
    try {
      return await withPage(site.url, async (page, errors) => {
        await page.waitForFunction(() => (globalThis as unknown as { result?: unknown }).result !== undefined, undefined, { timeout: 30_000 });
        type R = { error?: string; emitted: Record<string, number[]>; generated: Record<string, number[]> | null; generatedError: string; compileError: string };
        return { result: await page.evaluate(() => (globalThis as unknown as { result: R }).result), errors };
      });
    } finally {
      await site.close();
    }
  };
  // what the conv computes, from the reference interpreter in this process
  const reference = async () => {
    const { derive, evaluate } = await import('../../src/index.js');
    const source = readFileSync(join(root, 'examples/layers/conv2d.dg'), 'utf8');
    const sizes = { N: 2, C: 3, H: 7, W: 6, F: 4, R: 3, S: 3, P: 1, T: 2 };
    const fill = (n: number, f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));
    const X = fill(2 * 3 * 7 * 6, Math.sin), K = fill(4 * 3 * 3 * 3, (i) => Math.cos(2 * i)), b = fill(4, (i) => i / 3), dY = fill(2 * 4 * 4 * 3, (i) => Math.cos(3 * i));
    return evaluate(derive(source).program, { X, K, b, dY }, { sizes });
  };
  const expectNear = (got: Record<string, number[]>, want: Record<string, Float64Array>) => {
    for (const t of ['Y', 'dX', 'dK', 'db']) {
      const w = want[t]!;
      expect(got[t]!.length, t).toBe(w.length);
      const scale = Math.max(...w.map(Math.abs));
      expect(Math.max(...got[t]!.map((v, i) => Math.abs(v - w[i]!))) / scale, t).toBeLessThan(1e-12);
    }
  };
  const COMPILE_REFUSED = /^compile: this page's Content-Security-Policy forbids `new Function`.*'deltagrad\/generated'.*target: 'js'/;

  it("CSP script-src 'self' 'wasm-unsafe-eval': the generated kernels and an emitted module run; compile() says what to use instead", async () => {
    const { result, errors } = await cspPage("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'", true);
    expect(result.error).toBeUndefined();
    const want = await reference();
    expectNear(result.emitted, want);
    expect(result.generatedError).toBe('');
    expectNear(result.generated!, want);
    expect(result.compileError).toMatch(COMPILE_REFUSED);
    // the page's only complaint is the refused eval that compile() turned into its error
    expect(errors.filter((e) => !/unsafe-eval|Content Security Policy/i.test(e))).toEqual([]);
  }, 120_000);

  it("CSP script-src 'self': a module emitted with { simd: false } runs; the WebAssembly kernels say how to do without", async () => {
    const { result } = await cspPage("default-src 'self'; script-src 'self'", false);
    expect(result.error).toBeUndefined();
    expectNear(result.emitted, await reference());
    expect(result.generated).toBeNull();
    expect(result.generatedError).toMatch(/^deltagrad: the runtime refused to compile this module's WebAssembly micro-kernel \(CompileError: .*\); .*'wasm-unsafe-eval'.*\{ target: 'js', simd: false \}/);
    expect(result.compileError).toMatch(COMPILE_REFUSED);
  }, 120_000);

  it('derive + compile + evaluate bundle to < 150 KB gzipped, and one generated layer pulls in no other', async () => {
    const core = await bundleForBrowser(app, "export { derive, compile, evaluate } from 'deltagrad';");
    console.info(`browser bundle of derive + compile + evaluate: ${(core.bytes / KB).toFixed(0)} KB minified, ${(core.gzipped / KB).toFixed(1)} KB gzipped`);
    expect(core.gzipped).toBeLessThan(150 * KB);
    expect(core.modules.filter((m) => m.startsWith('dist/generated/'))).toEqual([]);
    const one = await bundleForBrowser(app, "export { conv2d } from 'deltagrad/generated';");
    console.info(`browser bundle of conv2d alone: ${(one.bytes / KB).toFixed(0)} KB minified, ${(one.gzipped / KB).toFixed(1)} KB gzipped`);
    expect(one.modules.filter((m) => m.startsWith('dist/generated/'))).toEqual(['dist/generated/conv2d.js', 'dist/generated/index.js']);
    // and none of the compiler comes with it
    expect(one.modules.filter((m) => m.startsWith('dist/src/') && !/^dist\/src\/codegen\/(operator|sharing)\.js$/.test(m))).toEqual([]);
    // the Operator wrapper for a module emitted ahead of time (docs/package.md) comes without the compiler
    const wrapper = await bundleForBrowser(app, "export { operator } from 'deltagrad';");
    expect(wrapper.modules).toEqual(['dist/src/codegen/operator.js', 'dist/src/codegen/sharing.js']);
    // the WebGPU back end is a chunk of its own, loaded by compile({ target: 'webgpu' }) on first use
    const split = await bundleForBrowser(app, "export { derive, compile, evaluate } from 'deltagrad';", { splitting: true });
    const gpuFiles = (list: string[]) => list.filter((m) => /^dist\/src\/(webgpu\/(gpuKernel|runtime)|pipelineWebgpu|lower\/gpu\/|target\/wgsl\/)/.test(m));
    console.info(`  with code splitting: ${(split.gzipped / KB).toFixed(1)} KB gzipped up front; the WebGPU back end (${gpuFiles(split.lazy).length} files) on demand`);
    expect(split.modules).toEqual(expect.arrayContaining(['dist/src/codegen/compile.js', 'dist/src/codegen/compileWebgpu.js']));
    expect(gpuFiles(split.modules)).toEqual([]);
    expect(gpuFiles(split.lazy)).toEqual(expect.arrayContaining(['dist/src/pipelineWebgpu.js', 'dist/src/target/wgsl/printWgsl.js', 'dist/src/webgpu/gpuKernel.js', 'dist/src/webgpu/runtime.js']));
    expect(split.gzipped).toBeLessThan(core.gzipped);
    const all = await bundleForBrowser(app, "export * from 'deltagrad/generated';");
    expect(all.modules.filter((m) => m.startsWith('dist/generated/')).length).toBeGreaterThan(10);
  });

  it('the core has no Node built-in and never reads `process` unguarded (a platform-neutral bundle resolves it alone)', async () => {
    const core = await bundleForBrowser(app, "export * from 'deltagrad'; export * from 'deltagrad/generated';");
    expect(core.code).not.toMatch(/\bnode:|\brequire\(/);
    // every `process` the core mentions is behind `globalThis.process`
    expect(core.code.match(/(?<![.\w$])process\b/g) ?? []).toEqual([]);
  });
});
