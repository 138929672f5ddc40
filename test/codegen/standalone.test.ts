// compile() and emit() need no TypeScript compiler, no ts-morph and no formatter: compile prints
// JavaScript from the loop IR and makes functions of it with `new Function`, emit lays its module
// text out itself. A fresh process in which those packages cannot be imported
// (test/fixtures/blockTools.mjs) compiles the conv layer and runs it, and emits it in both targets;
// a direct import of the blocked compiler there fails, so the block does hold.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('compile() and emit() without the TypeScript compiler, ts-morph or prettier', () => {
  it('compiles and runs the conv layer (forward and backward) where none of them can be imported', () => {
    const script = `
      const { compile, emit } = await import(${JSON.stringify(`${root}src/index.ts`)});
      const { readFileSync } = await import('node:fs');
      const source = readFileSync(${JSON.stringify(`${root}examples/layers/conv2d.dg`)}, 'utf8');
      const k = compile(source, { sizes: { N: 2, C: 3, H: 6, W: 5, F: 4, P: 1 } });
      const fill = (n, f) => Float64Array.from({ length: n }, (_, i) => f(i));
      const inputs = { X: fill(2 * 3 * 6 * 5, Math.sin), K: fill(4 * 3 * 9, Math.cos), b: fill(4, (i) => i) };
      const { Y } = k.forward(inputs);
      const { dX, dK, db } = k.backward(inputs, { dY: fill(Y.length, (i) => Math.sin(3 * i)) });
      const ts = emit(source), js = emit(source, { target: 'js' });
      let blocked = '';
      try { await import('typescript'); } catch (e) { blocked = String(e.message); }
      console.log(JSON.stringify({ y: Y.length, dx: dX.length, dk: dK.length, db: db.length, finite: [...Y, ...dX, ...dK, ...db].every(Number.isFinite), emitted: [ts.includes('export function backward_dX'), js.includes('export function backward_dX')], blocked }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', `${root}test/fixtures/blockTools.mjs`, '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(out).toMatchObject({ y: 2 * 4 * 6 * 5, dx: 2 * 3 * 6 * 5, dk: 4 * 3 * 9, db: 4, finite: true });
    expect(out.emitted).toEqual([true, true]);
    expect(out.blocked).toMatch(/blocked: typescript/);
  });
});
