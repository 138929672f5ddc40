// microModules: the WebAssembly module of a dtype's micro-kernels — the GEMM macro-kernel, the im2col
// panel packers and the row spreader — printed from their loop IR (src/lower/microkernels/) and
// assembled. Emitted kernels embed its bytes (gemm.ts's gemmPrelude) and call its functions.
//
// Worked example: microModuleBytes('float32', 22) is the module exporting
//   run(ap, bp, c, mc, nc, kc, ldc)                  4×8 f32x4 register tiles
//   pack4(dst, src, ktab, side, kc, panels)          A panels (MR = 4 rows)
//   pack8(dst, src, ktab, side, kc, panels)          B panels (NR = 8 columns)
//   spread(dst, src, planes, rows, rowBytes, dstRow, dstPlane)
// and a memory of 22 pages; float64 has one packer, pack4, its tile being 4×4.
import type { MicroFunction } from '../../loop/types.js';
import { gatherPack } from '../../lower/microkernels/gatherPack.js';
import { gemmMicroKernel, MICRO_TILE, type MicroDtype } from '../../lower/microkernels/gemmMicroKernel.js';
import { spreadRows } from '../../lower/microkernels/spreadRows.js';
import { assembleWasm } from './assembleWasm.js';
import { printWasm } from './printWasm.js';

/** The module's functions in export order: run, one packer per distinct panel width, spread. */
export function microFunctions(dtype: MicroDtype): MicroFunction[] {
  const { MR, NR } = MICRO_TILE[dtype];
  return [gemmMicroKernel({ dtype, MR, NR }), ...[...new Set([MR, NR])].map((R) => gatherPack({ dtype, R })), spreadRows()];
}

export function microModuleBytes(dtype: MicroDtype, pages: number): Uint8Array {
  return assembleWasm(Object.fromEntries(microFunctions(dtype).map((f) => [f.name, printWasm(f)])), pages);
}
