// spreadRows: copying a dense tensor into a zero-padded layout, row by row, as loop IR; printed to
// WebAssembly (one memory.copy a row) by src/target/wasm/printWasm.ts.
//
// Worked example, a conv's X[n, c, H, W] padded by P = 1 on each side (rows of W + 2):
//   spread(dst, src, planes = C, rows = H, rowBytes = W·8, dstRow = (W+2)·8, dstPlane = (H+2)(W+2)·8)
// copies image n's C·H rows, each W float64 long, from src (packed, one after another) to dst, each
// row (W+2)·8 bytes after the previous and each plane (H+2)(W+2)·8 after the previous: one
// `memory.copy` (a memmove) per row. The emitted kernel first puts X into the memory with one typed
// array `set`, zeroes the padded copy, and calls spread once per image; an element loop in JavaScript
// copying the same rows was 3–5 ns an element.
import { add, assign, buffer, c, for_, let_, sym, v } from '../../loop/build.js';
import type { Buf, LExpr, LStmt, MicroFunction } from '../../loop/types.js';

const i32 = (name: string) => sym(name, 'i32');
// build.ts has no constructor for a copy statement yet: this is the node it would make
const copy = (dst: Buf, dstAt: LExpr, src: Buf, srcAt: LExpr, count: LExpr): LStmt => ({ kind: 'copy', dst, dstAt, src, srcAt, count });

export function spreadRows(): MicroFunction {
  const mem = buffer('mem', 'u8');
  const [dst, src, planes, rows, rowBytes, dstRow, dstPlane] = [i32('dst'), i32('src'), i32('planes'), i32('rows'), i32('rowBytes'), i32('dstRow'), i32('dstPlane')];
  const [plane, row, d] = [i32('plane'), i32('row'), i32('d')];
  const body = [
    for_(plane, c(0), v(planes), [
      let_(d, v(dst), true),
      for_(row, c(0), v(rows), [copy(mem, v(d), mem, v(src), v(rowBytes)), assign(src, add(v(src), v(rowBytes))), assign(d, add(v(d), v(dstRow)))]),
      assign(dst, add(v(dst), v(dstPlane))),
    ]),
  ];
  return { name: 'spread', params: [dst, src, planes, rows, rowBytes, dstRow, dstPlane], mem, body };
}
