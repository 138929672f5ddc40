// lowerGpuMatmul: a matmul-shaped statement → a tiled GEMM on the GPU. Each workgroup of 8×8
// invocations computes a 32×32 tile of C, each invocation a 4×4 block of it in registers; the
// contraction goes 16 at a time through workgroup memory: the 64 invocations copy a 16×32 slice of
// A and of B into it (8 elements each), wait at a barrier, multiply-add out of it, and wait again.
//
// Worked example, the dense layer Y[n,f] = sum(d) X[n,d]*W[f,d] + b[f] (rows n, columns f):
//   for $bi in [0, ⌈N/32⌉) parallel, $bj in [0, ⌈F/32⌉) parallel:     (a workgroup per tile)
//     alloc $As[16·32], $Bs[16·32] workgroup
//     for $t in [0, 64) workgroup:
//       for $k0 in [0, D) by 16:
//         $As[e] = X[32·$bi + e rem 32, $k0 + ⌊e/32⌋]   (0 outside), e = $t + 64·l, l < 8; $Bs likewise
//         barrier;  16 × (4 + 4 reads, 16 multiply-adds);  barrier
//       Y[i, j] = $c_rc + b[j] for the 4×4 block, where i < N and j < F
// Rows, columns and the contraction may each be several indices (a flat position unflattened): the
// convolutions' implicit im2col reads X[n, c, u·T+i−P, v·T+j−P] through its bounds test (0 outside:
// the zero padding), and the conv input gradient runs one GEMM per residue class of its stride
// (splitResidueClasses.ts), the classes as one more `parallel` loop around the tiles.
import { idxVar, idxVars } from '../../ir/affine.js';
import { exprKey } from '../../ir/exprs.js';
import type { Bound, Expr, Statement } from '../../ir/types.js';
import { add, and, buffer, c, ceildiv, floordiv, for_, if_, let_, load, lt, mul, rem, select, store, sym, v } from '../../loop/build.js';
import type { LExpr, LStmt, Sym } from '../../loop/types.js';
import type { Lowering, Vars } from '../lowering.js';
import { matmulShape, product, type MatmulShape } from '../matmulShape.js';
import { residueClasses, splitResidueClasses, type ResidueSplit } from '../splitResidueClasses.js';
import { extentOf, unflatten } from './unflatten.js';

/** The tile of C a workgroup computes (BM × BN), its invocations (TR × TC, each a block of RM × RN)
 * and the slice of the contraction in workgroup memory at a time (BK). */
export const GEMM_TILE = { BM: 32, BN: 32, BK: 16, RM: 4, RN: 4 } as const;

export function lowerGpuMatmul(L: Lowering, s: Statement): LStmt[] | undefined {
  const { scope } = L;
  let shape: MatmulShape | undefined = matmulShape(s);
  let split: ResidueSplit | undefined;
  if (!shape) {
    // a conv input gradient: one GEMM per residue class of its strided taps
    split = splitResidueClasses(s, scope.ctx);
    shape = split && matmulShape(split.statement, true);
    if (!split || !shape?.mixed) return undefined;
  }
  // a batched product (both operands read the batch index: attention's A[h,i,j]·V[h,j,e]) is not
  // tiled here yet: it runs one invocation per element
  if (shape.batch.length) return undefined;
  const st = split?.statement ?? s;
  const classes = split ? residueClasses(split, scope) : undefined;
  [...shape.rows, ...shape.cols, ...shape.ks].forEach((b) => scope.extentOf.set(b.name, b.extent));
  const { BM, BN, BK, RM, RN } = GEMM_TILE;
  const TR = BM / RM;
  const TC = BN / RN;
  const threads = TR * TC;
  const F = scope.F;
  const out = scope.tensor(s.tensor, 'write');
  const [M, N, K] = [extentOf(scope, shape.rows), extentOf(scope, shape.cols), extentOf(scope, shape.ks)];
  // operands and epilogue must be plain expressions (no loops of their own)
  const plain = (e: Parameters<Lowering['expr']>[0], vars: Vars, hoisted: Parameters<Lowering['expr']>[2] = new Map()) => {
    const r = L.expr(e, vars, hoisted);
    return r.stmts.length ? undefined : r.value;
  };
  const at = (bs: readonly Bound[], flat: LExpr) => unflatten(scope, bs, flat);
  const A = (i: LExpr, k: LExpr) => plain(product(shape.left), new Map([...at(shape.rows, i), ...at(shape.ks, k)]));
  const B = (k: LExpr, j: LExpr) => plain(product(shape.right), new Map([...at(shape.ks, k), ...at(shape.cols, j)]));
  /** does the operand's first read run along the contraction in memory (its last subscript holds the
   * contraction's last index, not its side's)? */
  const alongK = (factors: readonly Expr[], side: readonly Bound[]) => {
    const read = factors.find((f) => f.kind === 'access' && f.subs.length > 0) as Extract<Expr, { kind: 'access' }> | undefined;
    const last = read ? idxVars(read.subs[read.subs.length - 1]!) : [];
    return last.includes(shape.ks[shape.ks.length - 1]!.name) && !last.includes(side[side.length - 1]!.name);
  };
  const reduction = exprKey(shape.reduction);
  const outSubs = split?.out ?? s.lhs.map((b) => idxVar(b.name));
  const cell = (i: LExpr, j: LExpr) => new Map([...at(shape.rows, i), ...at(shape.cols, j)]);
  const epilogue = (acc: LExpr, i: LExpr, j: LExpr) => plain(st.rhs, cell(i, j), new Map([[reduction, acc]]));
  if (A(c(0), c(0)) === undefined || B(c(0), c(0)) === undefined || epilogue(c(0, F), c(0), c(0)) === undefined) return undefined;

  const s32 = (n: string) => sym(n, 'i32');
  const [bi, bj, t, ty, tx, k0, l, e, kk] = ['$bi', '$bj', '$t', '$ty', '$tx', '$k0', '$l', '$e', '$kk'].map(s32) as Sym[];
  const As = buffer('$As', F);
  const Bs = buffer('$Bs', F);
  // the block of C and a row of B in the invocation's own arrays (registers, once the shader
  // compiler unrolls the constant loops over them): the kernel stays short, which matters to
  // compilers that JIT it (SwiftShader took 2–3 s per fully unrolled GEMM)
  const acc = buffer('$acc', F);
  const bv = buffer('$bv', F);
  const [r, q, a] = [sym('$r', 'i32'), sym('$q', 'i32'), sym('$a', F)];
  const row0 = mul(v(bi!), c(BM));
  const col0 = mul(v(bj!), c(BN));
  /** one slice of an operand into workgroup memory, element (k, x) at k·W + x: invocation t takes
   * e = t + 64·l — along x, or along k when the operand's reads run along the contraction (so that
   * neighbouring invocations read neighbouring memory) */
  const fill = (buf: typeof As, width: number, first: LExpr, extent: LExpr, value: (x: LExpr, k: LExpr) => LExpr, kFast: boolean): LStmt => {
    const x = sym('$x', 'i32');
    const k = sym('$k', 'i32');
    const [xe, ke] = kFast ? [floordiv(v(e!), c(BK)), rem(v(e!), c(BK))] : [rem(v(e!), c(width)), floordiv(v(e!), c(width))];
    return for_(l!, c(0), c((BK * width) / threads), [
      let_(e!, add(v(t!), mul(v(l!), c(threads)))),
      let_(x, add(first, xe)),
      let_(k, add(v(k0!), ke)),
      store(buf, kFast ? add(mul(ke, c(width)), xe) : v(e!), select(and(lt(v(x), extent), lt(v(k), K)), value(v(x), v(k)), c(0, F))),
    ]);
  };
  const i = add(add(row0, mul(v(ty!), c(RM))), v(r));
  const j = add(add(col0, mul(v(tx!), c(RN))), v(q));
  const block: LStmt[] = [
    { kind: 'alloc', buf: acc, size: c(RM * RN), scope: 'thread', zero: true },
    { kind: 'alloc', buf: bv, size: c(RN), scope: 'thread', zero: false },
    for_(k0!, c(0), K, [
      fill(As, BM, row0, M, (x, k) => A(x, k)!, alongK(shape.left, shape.rows)),
      fill(Bs, BN, col0, N, (x, k) => B(k, x)!, alongK(shape.right, shape.cols)),
      { kind: 'barrier' },
      for_(kk!, c(0), c(BK), [
        for_(q, c(0), c(RN), [store(bv, v(q), load(Bs, add(mul(v(kk!), c(BN)), add(mul(v(tx!), c(RN)), v(q)))))]),
        for_(r, c(0), c(RM), [
          let_(a, load(As, add(mul(v(kk!), c(BM)), add(mul(v(ty!), c(RM)), v(r))))),
          for_(q, c(0), c(RN), [store(acc, add(mul(v(r), c(RN)), v(q)), add(load(acc, add(mul(v(r), c(RN)), v(q))), mul(v(a), load(bv, v(q)))))]),
        ]),
      ]),
      { kind: 'barrier' },
    ], { step: c(BK) }),
    for_(r, c(0), c(RM), [
      for_(q, c(0), c(RN), [
        ...if_(and(lt(i, M), lt(j, N)), [store(out, scope.offset(s.tensor, outSubs, cell(i, j)), epilogue(load(acc, add(mul(v(r), c(RN)), v(q))), i, j)!)]),
      ]),
    ]),
  ];
  // the grid covers the largest residue class; a tile past the end of its class has nothing to do
  // (the test is the same for the whole workgroup, so its barriers stay in uniform control flow)
  // (a class holds at most ⌈H/T⌉ of the outputs h)
  const most = (b: Bound) => {
    const p = split?.splits.find((x) => x.h === b.name);
    return p ? ceildiv(scope.sizeExpr(p.extent), scope.poly(p.stride)) : scope.sizeExpr(b.extent);
  };
  const upper = (bs: readonly Bound[]) => bs.reduce((m, b) => mul(m, most(b)), c(1));
  const tiles: LStmt = for_(bi!, c(0), ceildiv(upper(shape.rows), c(BM)), [
    for_(bj!, c(0), ceildiv(upper(shape.cols), c(BN)), [
      { kind: 'alloc', buf: As, size: c(BK * BM), scope: 'workgroup', zero: false },
      { kind: 'alloc', buf: Bs, size: c(BK * BN), scope: 'workgroup', zero: false },
      for_(t!, c(0), c(threads), [
        let_(ty!, floordiv(v(t!), c(TC))),
        let_(tx!, rem(v(t!), c(TC))),
        ...(split ? if_(and(lt(row0, M), lt(col0, N)), block) : block),
      ], { loop: 'workgroup' }),
    ], { loop: 'parallel' }),
  ], { loop: 'parallel' });
  const names = (bs: readonly Bound[]) => bs.map((b) => b.name).join(',');
  const comment: LStmt = {
    kind: 'comment',
    text: `matmul: rows ${names(shape.rows)}, columns ${names(shape.cols)}, contraction over ${names(shape.ks)}${shape.mixed ? ' (an implicit im2col)' : ''}${split ? ', one per residue class' : ''}; ${BM}×${BN} tiles of ${TR}×${TC} invocations`,
  };
  if (!classes) return [comment, tiles];
  // the class loops run side by side: one more parallel loop (dimension) of the grid
  const wrapped = classes.wrap([tiles]);
  const parallel = (list: readonly LStmt[]): LStmt[] =>
    list.map((x): LStmt => (x.kind === 'for' && x !== tiles ? { ...x, loop: 'parallel', body: parallel(x.body) } : x.kind === 'block' ? { ...x, body: parallel(x.body) } : x));
  return [comment, ...parallel(wrapped)];
}
