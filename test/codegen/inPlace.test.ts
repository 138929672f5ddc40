// compile() on one thread runs a program with WebAssembly kernels in place: every tensor in one
// WebAssembly memory the kernels run over, a call copying its inputs in and its results out
// (docs/codegen.md). The numbers are bitwise those of the copying kernels, which a runtime without
// shared WebAssembly memories gets (stubbed here); results never alias the memory; `out` arrays are
// written; bad input is refused as before.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compile, type Kernel } from '../../src/index.js';
import { cnnProgram } from '../../examples/models/compiled.js';
import { arrayOf, differing, elements, inputsOf } from '../threads/arrays.js';

// the project's types have no WebAssembly: the part of it these stubs touch
type Descriptor = { initial: number; maximum?: number; shared?: boolean };
const WA = (globalThis as unknown as { WebAssembly: { Memory: new (d: Descriptor) => object } }).WebAssembly;

const layer = (name: string) => readFileSync(new URL(`../../examples/layers/${name}.dg`, import.meta.url), 'utf8');

/** compile() as a runtime without shared WebAssembly memories has it: the copying kernels. */
function copying(source: string, opts: Parameters<typeof compile>[1] & object): Kernel {
  const Base = WA.Memory;
  // the real WebAssembly underneath (its members are not enumerable: a spread would lose them)
  vi.stubGlobal('WebAssembly', Object.assign(Object.create(WA) as object, {
    Memory: function Memory(d: Descriptor) {
      if (d.shared) throw new TypeError('no shared memory here');
      return new Base(d);
    },
  }));
  try {
    return compile(source, opts);
  } finally {
    vi.unstubAllGlobals();
  }
}

afterEach(() => vi.unstubAllGlobals());

/** The shared memories `run` makes (the in-place kernels' one, on their first call). */
function sharedMemoriesMadeBy(run: () => void): number[] {
  const Base = WA.Memory;
  const made: number[] = [];
  vi.stubGlobal('WebAssembly', Object.assign(Object.create(WA) as object, {
    Memory: function Memory(d: Descriptor) {
      if (d.shared) made.push(d.initial);
      return new Base(d);
    },
  }));
  try {
    run();
  } finally {
    vi.unstubAllGlobals();
  }
  return made;
}

const cases: [string, string, Record<string, number>, 'float32' | 'float64'][] = [
  ['layer norm', layer('layer_norm'), { N: 7, D: 13 }, 'float32'],
  ['batch norm', layer('batch_norm'), { N: 9, C: 5 }, 'float64'],
  ['max pooling (arg-max records)', layer('maxpool2d'), { N: 3, C: 2, H: 9, W: 11 }, 'float32'],
  ['softmax cross-entropy', layer('softmax_xent'), { N: 5, C: 7 }, 'float64'],
];

describe('one thread in place', () => {
  for (const [what, source, sizes, dtype] of cases)
    it(`${what}: forward and backward give the copying kernels' bits, call after call`, () => {
      const inPlace = compile(source, { sizes, dtype, wasm: 'always' });
      const copy = copying(source, { sizes, dtype, wasm: 'always' });
      // the in-place kernel makes its memory on its first call; the copying one none
      expect(sharedMemoriesMadeBy(() => inPlace.forward(inputsOf(copy, 1)))).toHaveLength(1);
      expect(sharedMemoriesMadeBy(() => copy.forward(inputsOf(copy, 1)))).toHaveLength(0);
      for (const seed of [3, 4]) {
        const inputs = inputsOf(copy, seed);
        const seeds = Object.fromEntries(copy.outputs.filter((o) => copy.shapes[o]!.length).map((o) => [`d${o}`, arrayOf(dtype, elements(copy, o), (i) => Math.cos(seed + i))]));
        const f1 = copy.forward(inputs);
        const f2 = inPlace.forward(inputs);
        expect(Object.keys(f2).sort()).toEqual(Object.keys(f1).sort());
        for (const n of Object.keys(f1)) expect(differing(f1[n], f2[n]), `forward ${n}`).toEqual([]);
        const b1 = copy.backward(inputs, seeds);
        const b2 = inPlace.backward(inputs, seeds);
        expect(Object.keys(b2).sort()).toEqual(Object.keys(b1).sort());
        for (const n of Object.keys(b1)) expect(differing(b1[n], b2[n]), `backward ${n}`).toEqual([]);
      }
    });

  it('the MNIST CNN step (wrt its parameters): the same gradients, and the scores and loss through out', () => {
    const source = cnnProgram({ image: 12, f1: 3, f2: 4, classes: 5 });
    const opts = { sizes: { N: 3 }, wrt: ['K1', 'b1', 'K2', 'b2', 'W3', 'b3'] };
    const inPlace = compile(source, opts);
    const copy = copying(source, opts);
    const inputs = inputsOf(copy, 5);
    const out1 = { S: new Float64Array(15), L: new Float64Array(1) };
    const out2 = { S: new Float64Array(15), L: new Float64Array(1) };
    const b1 = copy.backward(inputs, {}, out1);
    const b2 = inPlace.backward(inputs, {}, out2);
    for (const n of Object.keys(b1)) expect(differing(b1[n], b2[n]), n).toEqual([]);
    expect(differing(out1.S, out2.S)).toEqual([]);
    expect(out2.L[0]).toBe(out1.L[0]);
  });

  it('what a call returns is its own: the next call does not write into it', () => {
    const k = compile(layer('layer_norm'), { sizes: { N: 4, D: 8 }, dtype: 'float32', wasm: 'always' });
    const a = inputsOf(k, 1);
    const b = inputsOf(k, 2);
    const ya = k.forward(a).Y!;
    const kept = ya.slice();
    const yb = k.forward(b).Y!;
    expect(yb).not.toBe(ya);
    expect(differing(ya, kept)).toEqual([]);
    const ga = k.backward(a, { dY: arrayOf('float32', 32, Math.sin) });
    const gaX = ga.dX!.slice();
    k.backward(b, { dY: arrayOf('float32', 32, Math.cos) });
    expect(differing(ga.dX, gaX)).toEqual([]);
  });

  it('bad input is refused as before, and the kernel goes on', () => {
    const k = compile(layer('layer_norm'), { sizes: { N: 4, D: 8 }, dtype: 'float32', wasm: 'always' });
    expect(() => k.forward({ X: new Float32Array(3), g: new Float32Array(8), b: new Float32Array(8) })).toThrow(/X has 3 elements/);
    expect(() => k.forward({ X: new Float64Array(32), g: new Float32Array(8), b: new Float32Array(8) })).toThrow(/must be a Float32Array/);
    const ok = k.forward(inputsOf(k, 1));
    expect(ok.Y).toHaveLength(32);
  });
});
