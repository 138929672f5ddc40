// The assembler's encodings: LEB128, local numbering, constants, block types, prefixed opcodes as the
// spec numbers them, and its text form.
import { describe, expect, it } from 'vitest';
import { assembleWasm, sleb, uleb, watOf, type WasmFunction } from '../../../src/target/wasm/assembleWasm.js';
import { printWasm } from '../../../src/target/wasm/printWasm.js';
import { gemmMicroKernel } from '../../../src/lower/microkernels/gemmMicroKernel.js';
import { instantiate } from './support.js';

/** does `hay` contain the bytes `needle` in a row? */
const hasBytes = (hay: Uint8Array, needle: number[]) => hay.some((_, i) => needle.every((b, j) => hay[i + j] === b));

describe('assembleWasm', () => {
  it('encodes LEB128 as the spec does (unsigned, signed, multi-byte)', () => {
    expect(uleb(0)).toEqual([0x00]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  });

  it('numbers locals past 127 with two bytes, and the engine accepts the module', () => {
    const locals = Array.from({ length: 130 }, (_, i) => [`x${i}`, 'i32'] as const);
    const f: WasmFunction = {
      params: [['p', 'i32']],
      locals,
      body: [['i32.const', -1000000], ['local.get', 'x129'], ['i32.add'], ['local.set', 'x128'], ['local.get', 'p'], ['v128.const'], ['v128.store', 16]],
    };
    const { run, memory } = instantiate<{ run: (p: number) => void }>(assembleWasm(f, 1));
    const view = new Int32Array(memory.buffer);
    view.fill(7, 0, 12);
    run(16); // zeroes bytes 32–47: offset 16 past p
    expect([...view.subarray(0, 12)]).toEqual([7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0, 0]);
  });

  it('writes float constants little-endian, typed locals in runs, and blocks with a result', () => {
    const f: WasmFunction = {
      params: [['p', 'i32']],
      locals: [
        ['x', 'f64'],
        ['y', 'f32'],
        ['k', 'i32'],
      ],
      body: [
        ['f64.const', -2.5], ['local.set', 'x'],
        ['f32.const', 0.1], ['local.set', 'y'],
        ['local.get', 'p'], ['local.get', 'x'], ['local.get', 'y'], ['f64.promote_f32'], ['f64.add'], ['f64.store', 0],
        // if (result i32): p ? 3 : 4, stored at 8
        ['local.get', 'p'], ['local.get', 'p'], ['if', 'i32'], ['i32.const', 3], ['else'], ['i32.const', 4], ['end'], ['i32.store', 8],
      ],
    };
    const bytes = assembleWasm(f, 1);
    expect(hasBytes(bytes, [0x44, 0, 0, 0, 0, 0, 0, 0x04, 0xc0])).toBe(true); // f64.const −2.5
    expect(hasBytes(bytes, [0x04, 0x7f])).toBe(true); // if (result i32)
    const { run, memory } = instantiate<{ run: (p: number) => void }>(bytes);
    run(16);
    expect(new Float64Array(memory.buffer)[2]).toBe(-2.5 + Math.fround(0.1));
    expect(new Int32Array(memory.buffer)[6]).toBe(3);
  });

  it('writes prefixed opcodes as the prefix and the spec number in LEB128', () => {
    const body: WasmFunction['body'] = [['local.get', 'p'], ['local.get', 'p'], ['v128.load', 0], ['local.get', 'p'], ['v128.load', 0], ['f32x4.add'], ['v128.store', 0]];
    const bytes = assembleWasm({ params: [['p', 'i32']], locals: [], body }, 1);
    expect(hasBytes(bytes, [0xfd, 0xe4, 0x01])).toBe(true); // f32x4.add = 0xfd 228
    const fill = assembleWasm({ params: [['p', 'i32']], locals: [], body: [['local.get', 'p'], ['i32.const', 0], ['i32.const', 8], ['memory.fill']] }, 1);
    expect(hasBytes(fill, [0xfc, 0x0b, 0x00])).toBe(true); // memory.fill = 0xfc 11, memory 0
    instantiate(bytes);
    instantiate(fill);
  });

  it('is deterministic, and its text form names every instruction it encodes', () => {
    const f = printWasm(gemmMicroKernel({ dtype: 'float64', MR: 4, NR: 4 }));
    expect(assembleWasm(f, 22)).toEqual(assembleWasm(printWasm(gemmMicroKernel({ dtype: 'float64', MR: 4, NR: 4 })), 22));
    const wat = watOf(f);
    for (const op of ['v128.load64_splat offset=8', 'f64x2.mul', 'f64x2.add', 'v128.store offset=16', 'br_if', 'v128.const i64x2 0 0']) expect(wat).toContain(op);
    // 4 rows × 2 vectors of accumulators
    expect(wat.match(/\(local \$c\d_\d v128\)/g)).toHaveLength(8);
  });

  it('rejects a local it was not told about, and a block type that is not a value type', () => {
    expect(() => assembleWasm({ params: [], locals: [], body: [['local.get', 'nope']] }, 1)).toThrow(/not declared/);
    expect(() => assembleWasm({ params: [], locals: [], body: [['block', 'i64'], ['end']] }, 1)).toThrow(/block type/);
  });
});
