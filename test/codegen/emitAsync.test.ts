// The async emit path (prettier in emitTs's own worker) gives the very bytes of the sync one, and
// the tools are loaded only when something is emitted.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { emit, emitAsync } from '../../src/codegen/compile.js';
import { generateLibrary, generateLibraryAsync } from '../../src/codegen/generateLibrary.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const layer = (name: string) => readFileSync(`${root}examples/layers/${name}.dg`, 'utf8');

describe('emitAsync', () => {
  it('the same text as emit, at both dtypes, optimized and naive', async () => {
    for (const name of ['conv2d', 'maxpool2d', 'softmax_xent'])
      for (const opts of [{ dtype: 'float64' }, { dtype: 'float32' }, { dtype: 'float64', optimize: false }] as const)
        expect(await emitAsync(layer(name), opts), `${name} ${JSON.stringify(opts)}`).toBe(emit(layer(name), opts));
  });
  it('concurrent calls each get their own module', async () => {
    const names = ['affine', 'relu', 'sgd', 'elu'];
    const texts = await Promise.all(names.map((n) => emitAsync(layer(n))));
    names.forEach((n, i) => expect(texts[i]).toBe(emit(layer(n))));
  });
  it('generateLibraryAsync writes what generateLibrary writes (the golden test checks that one against generated/)', async () => {
    const [sync, async_] = [generateLibrary(), await generateLibraryAsync()];
    expect([...async_.keys()]).toEqual([...sync.keys()]);
    for (const [name, text] of sync) expect(async_.get(name), name).toBe(text);
  });
});

describe('tools load on first use', () => {
  // a fresh process: which CommonJS packages does `derive` load, without and with --emit?
  const loaded = (argv: string[]) => {
    const script = `
      const { main } = await import(${JSON.stringify(`${root}src/cli.ts`)});
      const out = [];
      await main(${JSON.stringify(argv)}, { out: (s) => out.push(s), err: (s) => out.push(s) });
      const cache = Object.keys((await import('node:module')).createRequire(import.meta.url).cache);
      console.log(JSON.stringify(['ts-morph', '@prettier/sync'].filter((p) => cache.some((k) => k.includes('/node_modules/' + p + '/')))));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as string[];
  };
  it('derive loads neither ts-morph nor prettier; --emit ts prints from the loop IR (no ts-morph) and formats without @prettier/sync', () => {
    expect(loaded(['examples/layers/conv2d.dg'])).toEqual([]);
    expect(loaded(['-e', 'Y[i] = X[i]*2', '--emit', 'ts'])).toEqual([]);
  });
  it('importing the library loads neither', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', `await import(${JSON.stringify(`${root}src/index.ts`)}); console.log(Object.keys((await import('node:module')).createRequire(import.meta.url).cache).filter((k) => /node_modules\\/(ts-morph|@prettier)\\//.test(k)).length)`],
      { cwd: root, encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('0');
  });
});
