// buildMicroKernel: the packed-GEMM macro-kernel as WebAssembly SIMD, for a dtype and a tile shape.
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
// The caller guarantees mc, nc ≥ 1 and kc ≥ 1 (do-while loops), and that panels are zero-padded to
// whole tiles, so every tile is full.
import type { Instr, WasmFunction } from '../target/wasm/assembleWasm.js';

export interface MicroKernelShape {
  readonly dtype: 'float32' | 'float64';
  /** rows and columns of a register tile */
  readonly MR: number;
  readonly NR: number;
}

/** The macro-kernel: run(ap, bp, c, mc, nc, kc, ldc) computes C[0:mc, 0:nc] = Ap·Bp over kc, all
 * offsets in bytes. */
export function buildMicroKernel({ dtype, MR, NR }: MicroKernelShape): WasmFunction {
  const es = dtype === 'float64' ? 8 : 4;
  const lanes = 16 / es;
  if (NR % lanes !== 0) throw new Error(`internal: NR ${NR} is not a whole number of ${dtype} vectors`);
  const NV = NR / lanes;
  const add = dtype === 'float64' ? 'f64x2.add' : 'f32x4.add';
  const mul = dtype === 'float64' ? 'f64x2.mul' : 'f32x4.mul';
  const splat = dtype === 'float64' ? 'v128.load64_splat' : 'v128.load32_splat';
  const acc = (i: number, v: number) => `c${i}_${v}`;
  const accs = Array.from({ length: MR }, (_, i) => Array.from({ length: NV }, (_, v) => acc(i, v))).flat();
  const bs = Array.from({ length: NV }, (_, v) => `b${v}`);
  const body: Instr[] = [];
  const emit = (...xs: Instr[]) => body.push(...xs);
  const set = (local: string, ...value: Instr[]) => emit(...value, ['local.set', local]);
  const get = (local: string): Instr => ['local.get', local];
  const k32 = (n: number): Instr => ['i32.const', n];

  set('jr', k32(0));
  emit(['loop']);
  set('ir', k32(0));
  emit(['loop']);
  // pa = ap + ir·kc·es (panel ir/MR starts MR·kc elements after the previous); pb likewise
  set('pa', get('ap'), get('ir'), get('kc'), ['i32.mul'], k32(es), ['i32.mul'], ['i32.add']);
  set('pb', get('bp'), get('jr'), get('kc'), ['i32.mul'], k32(es), ['i32.mul'], ['i32.add']);
  for (const c of accs) set(c, ['v128.const']);
  set('k', get('kc'));
  emit(['loop']);
  bs.forEach((b, v) => set(b, get('pb'), ['v128.load', v * 16]));
  for (let i = 0; i < MR; i++) {
    set('a', get('pa'), [splat, i * es]);
    for (let v = 0; v < NV; v++) set(acc(i, v), get(acc(i, v)), get('a'), get(bs[v]!), [mul], [add]);
  }
  set('pa', get('pa'), k32(MR * es), ['i32.add']);
  set('pb', get('pb'), k32(NR * es), ['i32.add']);
  emit(get('k'), k32(1), ['i32.sub'], ['local.tee', 'k'], ['br_if', 0], ['end']);
  // store the tile: row i at c + (ir + i)·ldc + jr·es
  set('cp', get('c'), get('ir'), get('ldc'), ['i32.mul'], ['i32.add'], get('jr'), k32(es), ['i32.mul'], ['i32.add']);
  for (let i = 0; i < MR; i++) {
    if (i > 0) set('cp', get('cp'), get('ldc'), ['i32.add']);
    for (let v = 0; v < NV; v++) emit(get('cp'), get(acc(i, v)), ['v128.store', v * 16]);
  }
  set('ir', get('ir'), k32(MR), ['i32.add']);
  emit(get('ir'), get('mc'), ['i32.lt_u'], ['br_if', 0], ['end']);
  set('jr', get('jr'), k32(NR), ['i32.add']);
  emit(get('jr'), get('nc'), ['i32.lt_u'], ['br_if', 0], ['end']);

  const i32s = (names: string[]) => names.map((n) => [n, 'i32'] as const);
  return {
    params: i32s(['ap', 'bp', 'c', 'mc', 'nc', 'kc', 'ldc']),
    locals: [...i32s(['jr', 'ir', 'pa', 'pb', 'k', 'cp']), ...[...accs, ...bs, 'a'].map((n) => [n, 'v128'] as const)],
    body,
  };
}

