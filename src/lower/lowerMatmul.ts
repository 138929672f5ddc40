// lowerMatmul: a matmul-shaped statement → packed operands, a register micro-kernel and an epilogue.
//
// Worked example, the AffineReLU backward dX[n,d] = sum(f) (Y[n,f] > 0)*W[f,d]*dY[n,f]: rows n,
// columns d, contraction f. The factors over (n,f) form the A operand, (Y > 0)·dY — the ReLU mask
// is applied while A is packed, so no masked temporary exists; W over (f,d) is B. Blocks of KC×NC
// of B and MC×KC of A are packed into panels NR columns (MR rows) wide, and an MR×NR tile of C lives
// in registers while the micro-kernel walks the KC panel (4×4 for float64, 4×8 for float32). With
// `simd` the panels go straight into the memory of the WebAssembly SIMD macro-kernel and one call
// per block computes the C block (gemmBlocks.ts); without it the micro-kernel is JavaScript over 16
// local accumulators:  $c00 += $a0 * $b0; $c01 += $a0 * $b1; …
// An elementwise epilogue (bias + ReLU in the affine forward) is applied on the last K block.
// A convolution (an operand read mixing output and summed indices) goes to lowerIm2col.ts, a conv
// input gradient first through splitResidueClasses.ts, and a grouped conv's input gradient (its
// channel read as p/CG and p%CG) first through splitMergedIndex.ts.
import { children, exprKey } from '../ir/exprs.js';
import { sizeTryEval } from '../ir/sizes.js';
import type { Bound, Expr, IndexExpr, Statement } from '../ir/types.js';
import { add, addTo, and, assign, buffer, c, cast, ceildiv, eq, for_, ge, if_, le, let_, load, max, min, mul, select, store, sub, sym, v } from '../loop/build.js';
import type { LExpr, LStmt, Sym } from '../loop/types.js';
import { BLOCKING, packPanels, simdBlockLoops, simdRegions, type PackBlock } from './gemmBlocks.js';
import { lowerIm2col } from './lowerIm2col.js';
import type { Lowering, Vars } from './lowering.js';
import { matmulShape, product, type MatmulShape } from './matmulShape.js';
import { splitMergedIndex } from './splitMergedIndex.js';
import { memoTable } from './memoTable.js';
import { splitResidueClasses } from './splitResidueClasses.js';

/** One flat index over a side's indices; a multi-index side reads its indices from tables kept across calls. */
interface Side {
  readonly size: LExpr;
  /** the side's indices at a flat position */
  readonly at: (flat: LExpr) => [string, LExpr][];
}

function side(L: Lowering, bs: readonly Bound[], tag: string, setup: LStmt[]): Side {
  const { scope } = L;
  const exts = bs.map((b) => scope.sizeExpr(b.extent));
  if (bs.length === 1) return { size: exts[0]!, at: (f) => [[bs[0]!.name, f]] };
  const size = exts.reduce((a, b) => mul(a, b), c(1));
  // each index's table, kept across calls (memoTable.ts): filled by an odometer — the last index
  // advances, and carries into the ones before it
  const tables = bs.map((b, k) => {
    const made = memoTable(`$${tag}_${b.name}`, size, (t) => {
      const xs = bs.map((x) => sym(`$x_${x.name}`, 'i32'));
      const f = sym('$f', 'i32');
      let carry: LStmt[] = [addTo(xs[0]!, c(1))];
      for (let d = 1; d < bs.length; d++) carry = [addTo(xs[d]!, c(1)), ...if_(eq(v(xs[d]!), exts[d]!), [assign(xs[d]!, c(0)), ...carry])];
      return [...xs.map((x) => let_(x, c(0), true)), for_(f, c(0), size, [store(t, v(f), v(xs[k]!)), ...carry])];
    });
    setup.push(...made.stmts);
    return made.table;
  });
  return { size, at: (flat) => bs.map((b, d) => [b.name, load(tables[d]!, flat)] as [string, LExpr]) };
}

export function lowerMatmul(L: Lowering, s: Statement): LStmt[] | undefined {
  const { scope } = L;
  const shape = matmulShape(s);
  if (!shape) {
    if (!scope.opts.simd) return undefined;
    const direct = convInputGradient(L, s);
    if (direct) return direct;
    // a grouped conv's input gradient reads K[p/CG, f, p%CG, …]: split p into its group and channel
    const merged = splitMergedIndex(s);
    if (!merged) return undefined;
    const m = matmulShape(merged.statement);
    return m?.mixed ? lowerIm2col(L, merged.statement, m, undefined, merged.out) : convInputGradient(L, merged.statement, merged.out);
  }
  // a convolution: with SIMD through the im2col gather; without, the register-tiled direct loops
  if (shape.mixed) return scope.opts.simd ? lowerIm2col(L, s, shape) : undefined;
  const dtype = scope.opts.dtype;
  const { MR, NR } = BLOCKING[dtype];
  [...shape.batch, ...shape.rows, ...shape.cols, ...shape.ks].forEach((b) => scope.extentOf.set(b.name, b.extent));
  // a batched product runs one GEMM per value of the batch indices, inside their loops
  const batchSyms = shape.batch.map((b) => sym(b.name, 'i32'));
  const batchVars: [string, LExpr][] = shape.batch.map((b, q) => [b.name, v(batchSyms[q]!)]);
  const out = scope.tensor(s.tensor, 'write');
  const setup: LStmt[] = [];
  // the tables' names are unique in the module: they are kept across calls
  const rows = side(L, shape.rows, `${s.tensor}/row`, setup);
  const cols = side(L, shape.cols, `${s.tensor}/col`, setup);
  const ks = side(L, shape.ks, `${s.tensor}/k`, setup);
  const [M, N, K] = [rows.size, cols.size, ks.size];
  const F = scope.F;
  const left = product(shape.left);
  const right = product(shape.right);
  // operands and epilogue must be plain expressions (no loops of their own)
  const element = (e: typeof left, vars: Vars) => {
    const r = L.expr(e, vars, new Map());
    return r.stmts.length ? undefined : r.value;
  };
  const reduction = exprKey(shape.reduction);
  const epilogue = (cval: LExpr, vars: Vars) => {
    const r = L.expr(s.rhs, vars, new Map([[reduction, cval]]));
    return r.stmts.length ? undefined : r.value;
  };
  const probe = new Map<string, LExpr>([...batchVars, ...rows.at(c(0)), ...cols.at(c(0)), ...ks.at(c(0))]);
  if (element(left, probe) === undefined || element(right, probe) === undefined || epilogue(c(0, F), probe) === undefined) return undefined;
  // where C[i, j] lives in the output: row part + column part of the row-major offset
  const stride = (b: Bound) => scope.stride(s.tensor, s.lhs.indexOf(b));
  const offsetOf = (bs: readonly Bound[], at: [string, LExpr][]) => bs.reduce((o, b, q) => add(o, mul(at[q]![1], stride(b))), c(0));
  const rowOffset = (i: LExpr) => add(offsetOf(shape.batch, batchVars), offsetOf(shape.rows, rows.at(i)));
  const colOffset = (j: LExpr) => offsetOf(shape.cols, cols.at(j));
  const epi = (cval: LExpr, i: LExpr, j: LExpr) => epilogue(cval, new Map([...batchVars, ...rows.at(i), ...cols.at(j)]))!;
  const i = sym('$i', 'i32');
  const j = sym('$j', 'i32');
  // an empty contraction (K = 0) still applies the epilogue to 0
  const empty = if_(eq(K, c(0)), [for_(i, c(0), M, [for_(j, c(0), N, [store(out, add(rowOffset(v(i)), colOffset(v(j))), epi(c(0, F), v(i), v(j)))])])]);
  const comment: LStmt = {
    kind: 'comment',
    text: `matmul: ${shape.batch.length ? `for each ${shape.batch.map((b) => b.name).join(',')}, ` : ''}rows ${shape.rows.map((b) => b.name).join(',')}, columns ${shape.cols.map((b) => b.name).join(',')}, contraction over ${shape.ks.map((b) => b.name).join(',')}; packed ${MR}×${NR} register tiles${scope.opts.simd ? ' (WebAssembly SIMD)' : ''}`,
  };
  const A = (k: LExpr, x: LExpr) => ({ stmts: [], value: element(left, new Map([...batchVars, ...rows.at(x), ...ks.at(k)]))! });
  const B = (k: LExpr, x: LExpr) => ({ stmts: [], value: element(right, new Map([...batchVars, ...ks.at(k), ...cols.at(x)]))! });
  const batched = (body: LStmt[]): LStmt[] => shape.batch.reduceRight<LStmt[]>((inner, b, q) => [for_(batchSyms[q]!, c(0), scope.sizeExpr(b.extent), inner, { loop: 'parallel' })], body);
  if (scope.opts.simd) {
    const { AP, BP } = simdRegions(dtype);
    const loops = simdBlockLoops({
      scope, M, N, K, out, rowOffset, colOffset,
      packA: (h, block) => [{ kind: 'comment', text: `pack A[$ic:$ic+$mc, $pc:$pc+$kc] into panels ${MR} rows tall` }, ...packPanels({ dst: h, start: c(AP), R: MR, block, value: A, zero: c(0, F) })],
      packB: (h, block) => [{ kind: 'comment', text: `pack B[$pc:$pc+$kc, $jc:$jc+$nc] into panels ${NR} columns wide (zeros past the edge)` }, ...packPanels({ dst: h, start: c(BP), R: NR, block, value: B, zero: c(0, F) })],
      ...(epiIsIdentity(s) ? {} : { epilogue: epi }),
    });
    return [comment, ...setup, ...batched([...loops, ...empty])];
  }
  return [comment, ...setup, ...batched([...jsMicroKernel(L, { M, N, K, A, B, rowOffset, colOffset, out, epilogue: epiIsIdentity(s) ? undefined : epi, cols: shape.cols.length === 1 && stride(shape.cols[0]!).kind === 'const' && (stride(shape.cols[0]!) as { value: number }).value === 1 }), ...empty])];
}

/** A conv input gradient: one im2col matmul per residue class of its strided taps. A dilated conv's
 * input gradient reads dY[n,f,h+P-i*D,…]: backwards, but over the few taps i, so the im2col copy
 * holds hardly any zeros. */
function convInputGradient(L: Lowering, s: Statement, view?: (subs: readonly IndexExpr[]) => IndexExpr[]): LStmt[] | undefined {
  const back = matmulShape(s, true);
  if (back?.mixed && backwardsOverTaps(back, L.scope.ctx.defaults)) return lowerIm2col(L, s, back, undefined, view);
  const split = splitResidueClasses(s, L.scope.ctx);
  const inner = split && matmulShape(split.statement, true);
  return split && inner?.mixed ? lowerIm2col(L, split.statement, inner, split, view) : undefined;
}

/** The most taps a summed index read backwards may have (a kernel's width, not an image's). */
const MAX_TAPS = 16;

/** Every summed index a read takes backwards runs over a known, small extent (a kernel's taps). */
function backwardsOverTaps(shape: MatmulShape, defaults: ReadonlyMap<string, number>): boolean {
  const ks = new Map(shape.ks.map((b) => [b.name, b.extent] as const));
  const ok = (e: Expr): boolean => {
    if (e.kind === 'access')
      return e.subs.every((sub) =>
        sub.terms.every((t) => {
          if (t.atom.kind !== 'var' || [...t.coef.values()].every((x) => x > 0)) return true;
          const ext = ks.get(t.atom.name);
          const n = ext && sizeTryEval(ext, defaults);
          return n !== undefined && n !== null && n <= MAX_TAPS;
        }),
      );
    return children(e).every(ok);
  };
  return [...shape.left, ...shape.right].every(ok);
}

/** The statement is its sum, nothing around it: the C block is the output. */
const epiIsIdentity = (s: Statement) => s.rhs.kind === 'reduce';

/** The GEMM without WebAssembly: blocks packed into scratch arrays and an MR×NR tile of locals. */
function jsMicroKernel(
  L: Lowering,
  o: {
    M: LExpr; N: LExpr; K: LExpr;
    A: (k: LExpr, x: LExpr) => { stmts: readonly LStmt[]; value: LExpr };
    B: (k: LExpr, x: LExpr) => { stmts: readonly LStmt[]; value: LExpr };
    rowOffset: (i: LExpr) => LExpr; colOffset: (j: LExpr) => LExpr;
    out: ReturnType<typeof buffer>;
    epilogue: ((c: LExpr, i: LExpr, j: LExpr) => LExpr) | undefined;
    /** one column index of stride 1: a tile's column offsets are its row offsets plus j */
    cols: boolean;
  },
): LStmt[] {
  const { scope } = L;
  const F = scope.F;
  const { MR, NR, MC, KC, NC } = BLOCKING[scope.opts.dtype];
  const s = (n: string) => sym(n, 'i32');
  const [KCs, B0, need, jc, nc, pc, kc, ic, mc, jr, ir, pa, pb, p, i0, j0, mi, nj, ii, i, row, jj, q, j, oo] = [
    '$KC', '$B0', '$need', '$jc', '$nc', '$pc', '$kc', '$ic', '$mc', '$jr', '$ir', '$pa', '$pb', '$p', '$i0', '$j0', '$mi', '$nj', '$ii', '$i', '$row', '$jj', '$q', '$j', '$o',
  ].map(s) as Sym[];
  const first = sym('$first', 'bool');
  const last = sym('$last', 'bool');
  // the packed panels live in module scratch, reused by every call: allocating and zeroing them per
  // call cost 0.1–0.6 ms (page faults on fresh memory)
  const pack = buffer('$pack', F);
  const Ap = pack;
  const t = buffer('$t', 'f64');
  const acc = Array.from({ length: MR }, (_, k) => Array.from({ length: NR }, (__, l) => sym(`$c${k}${l}`, F)));
  const as = Array.from({ length: MR }, (_, k) => sym(`$a${k}`, F));
  const bs = Array.from({ length: NR }, (_, l) => sym(`$b${l}`, F));
  const cv = sym('$c', F);
  const bStart = v(B0!);
  const tileRow = (k: number) => o.rowOffset(add(v(i0!), c(k)));
  const rowSyms = Array.from({ length: MR }, () => s('$r'));
  const colSyms = Array.from({ length: NR }, () => s('$oc'));
  const at = (k: number, l: number): LExpr => (o.cols ? add(v(rowSyms[k]!), c(l)) : add(v(rowSyms[k]!), v(colSyms[l]!)));
  const sumAt = (k: number, l: number) => add(select(v(first), c(0, F), load(o.out, at(k, l))), v(acc[k]![l]!));
  const fullTile: LStmt[] = [
    let_(i0!, add(v(ic!), v(ir!))),
    let_(j0!, add(v(jc!), v(jr!))),
    ...rowSyms.map((r, k) => let_(r, o.cols ? add(tileRow(k), v(j0!)) : tileRow(k))),
    ...(o.cols ? [] : colSyms.map((x, l) => let_(x, o.colOffset(add(v(j0!), c(l)))))),
    ...(o.epilogue
      ? if_(
          v(last),
          acc.flatMap((row_, k) => row_.map((_, l) => store(o.out, at(k, l), o.epilogue!(sumAt(k, l), add(v(i0!), c(k)), add(v(j0!), c(l)))))),
          acc.flatMap((row_, k) => row_.map((_, l) => store(o.out, at(k, l), sumAt(k, l)))),
        )
      : acc.flatMap((row_, k) => row_.map((_, l) => store(o.out, at(k, l), sumAt(k, l))))),
  ];
  const edgeTile: LStmt[] = [
    ...acc.flatMap((row_, k) => row_.map((a, l) => store(t, c(k * NR + l), cast('f64', v(a))))),
    let_(mi!, min(c(MR), sub(v(mc!), v(ir!)))),
    let_(nj!, min(c(NR), sub(v(nc!), v(jr!)))),
    for_(ii!, c(0), v(mi!), [
      let_(i!, add(add(v(ic!), v(ir!)), v(ii!))),
      let_(row!, o.rowOffset(v(i!))),
      let_(q!, mul(v(ii!), c(NR)), true),
      for_(jj!, c(0), v(nj!), [
        let_(j!, add(add(v(jc!), v(jr!)), v(jj!))),
        let_(oo!, add(v(row!), o.colOffset(v(j!)))),
        let_(cv, add(select(v(first), c(0, F), load(o.out, v(oo!))), cast(F, load(t, v(q!))))),
        store(o.out, v(oo!), o.epilogue ? select(v(last), o.epilogue(v(cv), v(i!), v(j!)), v(cv)) : v(cv)),
        addTo(q!, c(1)),
      ]),
    ]),
  ];
  const fits = and(le(add(v(ir!), c(MR)), v(mc!)), le(add(v(jr!), c(NR)), v(nc!)));
  return [
    let_(KCs!, ceildiv(o.K, max(c(1), ceildiv(o.K, c(KC))))),
    let_(B0!, mul(c(MC), v(KCs!))),
    let_(need!, add(v(B0!), mul(mul(v(KCs!), ceildiv(min(c(NC), o.N), c(NR))), c(NR)))),
    { kind: 'alloc', buf: pack, size: v(need!), scope: 'module', zero: false },
    { kind: 'alloc', buf: t, size: c(MR * NR), scope: 'call', zero: true },
    for_(jc!, c(0), o.N, [
      let_(nc!, min(c(NC), sub(o.N, v(jc!)))),
      for_(pc!, c(0), o.K, [
        let_(kc!, min(v(KCs!), sub(o.K, v(pc!)))),
        let_(first, eq(v(pc!), c(0))),
        let_(last, ge(add(v(pc!), v(kc!)), o.K)),
        ...packPanels({ dst: pack, start: bStart, R: NR, block: { first: v(jc!), count: v(nc!), pc: v(pc!), kc: v(kc!) } satisfies PackBlock, value: o.B, zero: c(0, F) }),
        for_(ic!, c(0), o.M, [
          let_(mc!, min(c(MC), sub(o.M, v(ic!)))),
          ...packPanels({ dst: Ap, start: c(0), R: MR, block: { first: v(ic!), count: v(mc!), pc: v(pc!), kc: v(kc!) }, value: o.A, zero: c(0, F) }),
          for_(jr!, c(0), v(nc!), [
            for_(ir!, c(0), v(mc!), [
              ...acc.flat().map((a) => let_(a, c(0, F), true)),
              let_(pa!, mul(v(ir!), v(kc!)), true),
              let_(pb!, add(bStart, mul(v(jr!), v(kc!))), true),
              for_(p!, c(0), v(kc!), [
                ...as.map((a, k) => let_(a, load(Ap, add(v(pa!), c(k))))),
                ...bs.map((b, l) => let_(b, load(pack, add(v(pb!), c(l))))),
                ...acc.flatMap((row_, k) => row_.map((x, l) => addTo(x, mul(v(as[k]!), v(bs[l]!))))),
                addTo(pa!, c(MR)),
                addTo(pb!, c(NR)),
              ]),
              // a full tile is stored straight from the accumulators; edge tiles go through $t
              ...if_(fits, fullTile, edgeTile),
            ], { step: c(MR) }),
          ], { step: c(NR) }),
        ], { step: c(MC), loop: 'parallel' }),
      ], { step: v(KCs!) }),
    ], { step: c(NC), loop: 'parallel' }),
  ];
}

