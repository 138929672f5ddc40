// emit's targets: a TypeScript module (the default) and, with `target: 'js'`, the same kernels as a
// JavaScript ES module a bundler can take ahead of time (a page whose Content-Security-Policy forbids
// `new Function` cannot use compile()). Neither loads a formatter or a compiler: emit lays its text out itself.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compile, emit, emitAsync } from '../../src/codegen/compile.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const layer = (name: string) => readFileSync(`${root}examples/layers/${name}.dg`, 'utf8');

describe('emit', () => {
  it('emitAsync resolves to the very text of emit', async () => {
    for (const name of ['conv2d', 'maxpool2d']) for (const opts of [{ dtype: 'float64' }, { dtype: 'float32', target: 'js' }] as const) expect(await emitAsync(layer(name), opts)).toBe(emit(layer(name), opts));
  });

  it("target 'js' is an ES module of plain JavaScript that Node imports and that computes what compile() computes", async () => {
    const text = emit(layer('conv2d'), { target: 'js' });
    expect(text).not.toMatch(/: Float64Array|readonly |as const|!\]/);
    const dir = mkdtempSync(join(tmpdir(), 'deltagrad-emit-'));
    const file = join(dir, 'conv2d.mjs');
    writeFileSync(file, text);
    const m = (await import(pathToFileURL(file).href)) as Record<string, (t: object, s: object) => void> & { shapes: (s: object) => Record<string, number[]> };
    const sizes = { N: 2, C: 3, H: 5, W: 6, F: 4, R: 3, S: 3, P: 1, T: 1 };
    const shapes = m.shapes(sizes);
    const count = (n: string) => shapes[n]!.reduce((a, b) => a * b, 1);
    const fill = (n: number, f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));
    const inputs = { X: fill(count('X'), Math.sin), K: fill(count('K'), Math.cos), b: fill(count('b'), (i) => i) };
    const Y = new Float64Array(count('Y'));
    m.forward!({ ...inputs, Y }, sizes);
    expect([...Y]).toEqual([...compile(layer('conv2d'), { sizes }).forward(inputs).Y!]);
  });

  it("an unknown target is an error", () => {
    expect(() => emit('Y[i] = X[i]', { target: 'wgsl' } as never)).toThrow("emit: target must be 'ts' (a TypeScript module) or 'js' (a JavaScript ES module), got 'wgsl'");
  });
});
