// gemmMicroKernel: the packed-GEMM macro-kernel as loop IR, for a dtype and a tile shape; printed to
// WebAssembly SIMD by src/target/wasm/printWasm.ts.
//
// Worked example, float64 with a 4×4 tile (MR = 4 rows, NR = 4 columns = 2 vectors of f64x2):
// packed A panels hold 4 rows per k, packed B panels 4 columns per k (gemm.ts packs them). For each
// 4×4 tile of C the kernel keeps 8 v128 accumulators and, per k,
//   b0 = v128.load(pb)  b1 = v128.load(pb + 16)
//   a  = v128.load64_splat(pa)       c00 += a·b0  c01 += a·b1
//   a  = v128.load64_splat(pa + 8)   c10 += a·b0  c11 += a·b1   … rows 2, 3
// — 2 + 4 loads for 32 flops, where the scalar JavaScript tile needs 8 loads and 32 separate
// multiply-adds (each load bounds-checked). The tile is then stored to the C block (row stride ldc
// bytes), and the caller (emitted TypeScript) adds it into the output with the epilogue.
// float32 uses f32x4 and a 4×8 tile: the same 8 accumulators, 64 flops per k.
// The caller guarantees mc, nc ≥ 1 and kc ≥ 1 (the loops are do-whiles: `nonEmpty`), and that
// panels are zero-padded to whole tiles, so every tile is full.
import { add, assign, buffer, c, for_, let_, load, mul, store, sym, unary, v } from '../../loop/build.js';
import type { LStmt, MicroFunction, VectorTy } from '../../loop/types.js';

export type MicroDtype = 'float32' | 'float64';

export interface MicroKernelShape {
  readonly dtype: MicroDtype;
  /** rows and columns of a register tile */
  readonly MR: number;
  readonly NR: number;
}

/** The register tile per dtype: 8 v128 accumulators either way (gemmBlocks.ts blocks around it). */
export const MICRO_TILE: Record<MicroDtype, { readonly MR: number; readonly NR: number }> = {
  float64: { MR: 4, NR: 4 },
  float32: { MR: 4, NR: 8 },
};

/** Element size in bytes, lane type and vector type of a dtype. */
export const lanesOf = (dtype: MicroDtype): { es: number; lane: 'f64' | 'f32'; vec: VectorTy } =>
  dtype === 'float64' ? { es: 8, lane: 'f64', vec: 'f64x2' } : { es: 4, lane: 'f32', vec: 'f32x4' };

const i32 = (name: string) => sym(name, 'i32');

/** The macro-kernel: run(ap, bp, c, mc, nc, kc, ldc) computes C[0:mc, 0:nc] = Ap·Bp over kc, all
 * offsets in bytes. */
export function gemmMicroKernel({ dtype, MR, NR }: MicroKernelShape): MicroFunction {
  const { es, lane, vec } = lanesOf(dtype);
  if ((NR * es) % 16 !== 0) throw new Error(`internal: NR ${NR} is not a whole number of ${dtype} vectors`);
  const NV = (NR * es) / 16;
  const mem = buffer('mem', 'u8');
  const [ap, bp, cc, mc, nc, kc, ldc] = [i32('ap'), i32('bp'), i32('c'), i32('mc'), i32('nc'), i32('kc'), i32('ldc')];
  const [jr, ir, k, pa, pb, cp] = [i32('jr'), i32('ir'), i32('k'), i32('pa'), i32('pb'), i32('cp')];
  const acc = Array.from({ length: MR }, (_, i) => Array.from({ length: NV }, (_, j) => sym(`c${i}_${j}`, vec)));
  const bs = Array.from({ length: NV }, (_, j) => sym(`b${j}`, vec));
  const as = Array.from({ length: MR }, (_, i) => sym(`a${i}`, vec));

  // one k: the B vectors once, then per row a splat of A and NV multiply-adds
  const step: LStmt[] = [
    ...bs.map((b, j) => let_(b, load(mem, add(v(pb), c(16 * j)), { ty: vec }))),
    ...as.flatMap((a, i) => [
      let_(a, unary('splat', vec, load(mem, add(v(pa), c(i * es)), { ty: lane }))),
      ...acc[i]!.map((x, j) => assign(x, add(v(x), mul(v(a), v(bs[j]!))))),
    ]),
    assign(pa, add(v(pa), c(MR * es))),
    assign(pb, add(v(pb), c(NR * es))),
  ];
  const tile: LStmt[] = [
    // panel ir/MR starts MR·kc elements after the previous one; B's panel jr/NR likewise
    let_(pa, add(v(ap), mul(mul(v(ir), v(kc)), c(es))), true),
    let_(pb, add(v(bp), mul(mul(v(jr), v(kc)), c(es))), true),
    ...acc.flat().map((x) => let_(x, c(0, vec), true)),
    for_(k, c(0), v(kc), step, { nonEmpty: true }),
    // row i of the tile at c + (ir + i)·ldc + jr·es
    let_(cp, add(add(v(cc), mul(v(ir), v(ldc))), mul(v(jr), c(es))), true),
    ...acc.flatMap((row, i) => [...(i > 0 ? [assign(cp, add(v(cp), v(ldc)))] : []), ...row.map((x, j) => store(mem, add(v(cp), c(16 * j)), v(x)))]),
  ];
  const body = [for_(jr, c(0), v(nc), [for_(ir, c(0), v(mc), tile, { step: c(MR), nonEmpty: true })], { step: c(NR), nonEmpty: true })];
  return { name: 'run', params: [ap, bp, cc, mc, nc, kc, ldc], mem, body };
}
