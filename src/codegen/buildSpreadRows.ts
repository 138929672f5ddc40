// buildSpreadRows: copying a dense tensor into a zero-padded layout, row by row, as WebAssembly.
//
// Worked example, a conv's X[n, c, H, W] padded by P = 1 on each side (rows of W + 2):
//   spread(dst, src, planes = C, rows = H, rowBytes = W·8, dstRow = (W+2)·8, dstPlane = (H+2)(W+2)·8)
// copies image n's C·H rows, each W float64 long, from src (packed, one after another) to dst, each
// row (W+2)·8 bytes after the previous and each plane (H+2)(W+2)·8 after the previous: one
// `memory.copy` (a memmove) per row. The emitted kernel first puts X into the memory with one typed
// array `set`, zeroes the padded copy, and calls spread once per image; an element loop in JavaScript
// copying the same rows was 3–5 ns an element.
import type { Instr, WasmFunction } from '../target/wasm/assembleWasm.js';

export function buildSpreadRows(): WasmFunction {
  const get = (local: string): Instr => ['local.get', local];
  const k32 = (n: number): Instr => ['i32.const', n];
  const body: Instr[] = [
    ['block'],
    get('planes'), ['i32.eqz'], ['br_if', 0],
    get('rows'), ['i32.eqz'], ['br_if', 0],
    ['loop'],
    get('dst'), ['local.set', 'd'],
    get('rows'), ['local.set', 'r'],
    ['loop'],
    get('d'), get('src'), get('rowBytes'), ['memory.copy'],
    get('src'), get('rowBytes'), ['i32.add'], ['local.set', 'src'],
    get('d'), get('dstRow'), ['i32.add'], ['local.set', 'd'],
    get('r'), k32(1), ['i32.sub'], ['local.tee', 'r'], ['br_if', 0],
    ['end'],
    get('dst'), get('dstPlane'), ['i32.add'], ['local.set', 'dst'],
    get('planes'), k32(1), ['i32.sub'], ['local.tee', 'planes'], ['br_if', 0],
    ['end'],
    ['end'],
  ];
  const i32s = (names: readonly string[]) => names.map((n) => [n, 'i32'] as const);
  return { params: i32s(['dst', 'src', 'planes', 'rows', 'rowBytes', 'dstRow', 'dstPlane']), locals: i32s(['d', 'r']), body };
}
