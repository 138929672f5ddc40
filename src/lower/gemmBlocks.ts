// gemmBlocks: the blocked loops around the WebAssembly GEMM macro-kernel, shared by lowerMatmul and
// lowerIm2col. For each NC-column block and KC-deep slice of the contraction, pack B; for each
// MC-row block, pack A, run the macro-kernel on the block, and add the C block into the output,
// applying the epilogue on the last slice.
//
// Worked example (the affine layer Y[n,f] = sum(d) X[n,d]*W[f,d] + b[f], float64):
//   for jc in [0, F) by 512:  for pc in [0, D) by KC:  pack W's block (panels 4 columns wide)
//     for ic in [0, N) by 64:  pack X's block (panels 4 rows tall)
//       run(0, 131072, 1179648, mc, nc, kc, 4096)                  ← offsets of A, B, C in bytes
//       for ii, jj:  Y[o] = H[C + ii·512 + jj] (+ Y[o] after the first slice) (+ b[j] on the last), one loop per case
// The jc and ic loops are marked `parallel`: their iterations write disjoint columns (rows) of C and
// read none another writes; the packing goes to the module memory, one per worker thread
// (opt/splitParallelLoop.ts splits one of them between the threads, or makes both serial).
// For threads the blocks of the side they share out (the columns where there are more of them than
// rows, else the rows) are sized so that the threads' shares are even: a multiple of `#parts`
// blocks of whole register panels, none wider than NC (MC) — 1568 columns on 2 threads are 4 blocks
// of 392, not 3 of 512 and one of 32 (2 blocks against 1 and a sliver). Where a column or row
// block starts changes no sum: each element of C still adds the same products in the same order.
// The module memory H holds the packed A block at 0, the packed B block at MC·KC and the C block at
// MC·KC + KC·NC (elements); a convolution puts its padded copies and tables after them.
import { add, addTo, and, assign, buffer, c, ceildiv, eq, for_, ge, if_, le, let_, load, lt, max, min, mul, or, select, store, sub, sym, v } from '../loop/build.js';
import type { Buf, LExpr, LStmt, MicroModule, Sym } from '../loop/types.js';
import type { KernelScope } from './kernelScope.js';
import { MICRO_TILE } from './microkernels/gemmMicroKernel.js';

/** The register tile of the micro-kernel (MR × NR) and the cache blocks around it (MC × KC of A, KC × NC of B). */
export const BLOCKING = {
  float64: { ...MICRO_TILE.float64, MC: 64, KC: 256, NC: 512 },
  float32: { ...MICRO_TILE.float32, MC: 64, KC: 256, NC: 512 },
} as const;

/** Where the packed A block, the packed B block and the C block start in the module memory (elements). */
export function simdRegions(dtype: 'float32' | 'float64'): { AP: number; BP: number; CP: number } {
  const { MC, KC, NC } = BLOCKING[dtype];
  return { AP: 0, BP: MC * KC, CP: MC * KC + KC * NC };
}

export const microModule = (dtype: 'float32' | 'float64'): MicroModule => (dtype === 'float32' ? 'gemm32' : 'gemm64');

/** The loop variables a pack sees: the block's first row (column) and count, and the slice's. */
export interface PackBlock {
  readonly first: LExpr;
  readonly count: LExpr;
  readonly pc: LExpr;
  readonly kc: LExpr;
}

/**
 * Panels R lanes wide, one after another from element `start` of `dst`: element (k, x) of the block
 * is `value(k, x)` (the contraction index and the flat row or column), 0 past the edge of the last panel.
 */
export function packPanels(o: { dst: Buf; start: LExpr; R: number; block: PackBlock; value: (k: LExpr, x: LExpr) => { stmts: readonly LStmt[]; value: LExpr }; zero: LExpr }): LStmt[] {
  const q = sym('$q', 'i32');
  const panel = sym('$panel', 'i32');
  const p = sym('$p', 'i32');
  const lane = sym('$lane', 'i32');
  const k = sym('$k', 'i32');
  const x = sym('$x', 'i32');
  const el = o.value(v(k), v(x));
  return [
    let_(q, o.start, true),
    for_(panel, c(0), o.block.count, [
      for_(p, c(0), o.block.kc, [
        let_(k, add(o.block.pc, v(p))),
        for_(lane, c(0), c(o.R), [
          let_(x, add(add(o.block.first, v(panel)), v(lane))),
          ...el.stmts,
          store(o.dst, v(q), select(lt(add(v(panel), v(lane)), o.block.count), el.value, o.zero)),
          addTo(q, c(1)),
        ]),
      ]),
    ], { step: c(o.R) }),
  ];
}

export interface BlockLoops {
  readonly scope: KernelScope;
  readonly M: LExpr;
  readonly N: LExpr;
  readonly K: LExpr;
  /** packing code, given the block: A into the memory at AP, B at BP */
  readonly packA: (h: Buf, block: PackBlock) => LStmt[];
  readonly packB: (h: Buf, block: PackBlock) => LStmt[];
  /** where row i and column j of C live in the output */
  readonly rowOffset: (i: LExpr) => LExpr;
  readonly colOffset: (j: LExpr) => LExpr;
  readonly out: Buf;
  /** the output element from the finished sum c (undefined: c itself) */
  readonly epilogue?: (c: LExpr, i: LExpr, j: LExpr) => LExpr;
}

export function simdBlockLoops(o: BlockLoops): LStmt[] {
  const { scope } = o;
  const dtype = scope.opts.dtype;
  const { MC, KC, NC, MR, NR } = BLOCKING[dtype];
  const es = dtype === 'float32' ? 4 : 8;
  const { BP, CP } = simdRegions(dtype);
  const F = scope.F;
  const h = buffer('$H', F);
  const s = (name: string) => sym(name, 'i32');
  const [KCs, jc, nc, pc, kc, ic, mc] = ['$KC', '$jc', '$nc', '$pc', '$kc', '$ic', '$mc'].map(s) as Sym[];
  // the block widths: NC and MC, or for threads an even share (balancedStep)
  const parts = scope.opts.threads ? scope.threadCount() : undefined;
  const [ncSym, mcSym, byColumns] = [sym('$NCs', 'i32'), sym('$MCs', 'i32'), sym('$byColumns', 'bool')];
  const [ncStep, mcStep] = parts ? [v(ncSym), v(mcSym)] : [c(NC), c(MC)];
  const first = sym('$first', 'bool');
  const last = sym('$last', 'bool');
  /** C block into the output: added to what the earlier slices left there (`accumulate`), the
   * epilogue applied (`finish`) */
  const writeBack = (accumulate: boolean, finish: boolean): LStmt => {
    const [ii, i, row, r, jj, j, o_] = ['$ii', '$i', '$row', '$r', '$jj', '$j', '$o'].map(s) as [Sym, Sym, Sym, Sym, Sym, Sym, Sym];
    const cv = sym('$c', F);
    return for_(ii, c(0), v(mc!), [
      let_(i, add(v(ic!), v(ii))),
      let_(row, o.rowOffset(v(i))),
      let_(r, add(c(CP), mul(v(ii), c(NC))), true),
      for_(jj, c(0), v(nc!), [
        let_(j, add(v(jc!), v(jj))),
        let_(o_, add(v(row), o.colOffset(v(j)))),
        let_(cv, accumulate ? add(load(o.out, v(o_)), load(h, v(r))) : load(h, v(r))),
        store(o.out, v(o_), finish && o.epilogue ? o.epilogue(v(cv), v(i), v(j)) : v(cv)),
        assign(r, add(v(r), c(1))),
      ]),
    ]);
  };
  return [
    { kind: 'view', buf: h, module: microModule(dtype), offset: c(0) },
    // the K slices split K evenly (784 = 4 × 196, not 3 × 256 + 16: a short last slice pays the C
    // block's load and store for few multiply-adds)
    let_(KCs!, ceildiv(o.K, max(c(1), ceildiv(o.K, c(KC))))),
    // threads share out one side, its blocks balanced for #parts and the other's for one (dividing
    // both re-packed A, or B, once per extra block for nothing): the side whose register panels
    // part the more evenly, and on a tie the wider (each thread then packs all of the narrower)
    ...(parts
      ? [
          let_(byColumns, byColumnsOf(o.M, o.N, MR, NR, parts)),
          let_(ncSym, select(v(byColumns), balancedStep(o.N, NC, NR, parts), balancedStep(o.N, NC, NR, c(1)))),
          let_(mcSym, select(v(byColumns), balancedStep(o.M, MC, MR, c(1)), balancedStep(o.M, MC, MR, parts))),
        ]
      : []),
    for_(jc!, c(0), o.N, [
      let_(nc!, min(ncStep, sub(o.N, v(jc!)))),
      for_(pc!, c(0), o.K, [
        let_(kc!, min(v(KCs!), sub(o.K, v(pc!)))),
        let_(first, eq(v(pc!), c(0))),
        let_(last, ge(add(v(pc!), v(kc!)), o.K)),
        ...o.packB(h, { first: v(jc!), count: v(nc!), pc: v(pc!), kc: v(kc!) }),
        for_(ic!, c(0), o.M, [
          let_(mc!, min(mcStep, sub(o.M, v(ic!)))),
          ...o.packA(h, { first: v(ic!), count: v(mc!), pc: v(pc!), kc: v(kc!) }),
          { kind: 'comment', text: "C block = packed A · packed B (offsets of A, B and C in bytes, then mc, nc, kc and C's row stride)" },
          { kind: 'microkernel', module: microModule(dtype), fn: 'run', args: [c(0), c(BP * es), c(CP * es), v(mc!), v(nc!), v(kc!), c(NC * es)] },
          // one loop per case of the slice (first: C is the block; last: the epilogue applies) —
          // a test of $first and $last per element cost as much as the rest of the loop
          ...(o.epilogue
            ? if_(v(first), if_(v(last), [writeBack(false, true)], [writeBack(false, false)]), if_(v(last), [writeBack(true, true)], [writeBack(true, false)]))
            : if_(v(first), [writeBack(false, false)], [writeBack(true, false)])),
        ], { step: mcStep, loop: 'parallel' }),
      ], { step: v(KCs!) }),
    ], { step: ncStep, loop: 'parallel' }),
  ];
}

/** Do the columns part more evenly between `parts` threads than the rows, in whole register panels
 * (⌈p/parts⌉·parts/p the larger share over an even one), or as evenly and are they at least as many? */
function byColumnsOf(M: LExpr, N: LExpr, MR: number, NR: number, parts: LExpr): LExpr {
  const [pm, pn] = [ceildiv(M, c(MR)), ceildiv(N, c(NR))];
  // unevenness of rows < of columns  ⇔  ⌈pm/P⌉·pn < ⌈pn/P⌉·pm
  const [rows, cols] = [mul(ceildiv(pm, parts), pn), mul(ceildiv(pn, parts), pm)];
  return or(lt(cols, rows), and(eq(cols, rows), le(M, N)));
}

/** A block width for `parts` threads over `extent` rows or columns: whole panels of `lanes`, in a
 * multiple of `parts` blocks each at most `widest` — ⌈panels / blocks⌉ panels a block (at least one). */
function balancedStep(extent: LExpr, widest: number, lanes: number, parts: LExpr): LExpr {
  const panels = ceildiv(extent, c(lanes));
  const blocks = mul(parts, max(c(1), ceildiv(panels, mul(parts, c(widest / lanes)))));
  return mul(c(lanes), max(c(1), ceildiv(panels, blocks)));
}
