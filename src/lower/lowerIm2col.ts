// lowerIm2col: a matmul whose operand reads mix left-side and summed indices (a convolution) →
// panels gathered through offset tables from a zero-padded copy, and the WebAssembly micro-kernel.
//
// Worked example, conv forward Y[n,f,u,v] = sum(c,i,j) K[f,c,i,j]*X[n,c,u*T+i-P,v*T+j-P] + b[f]:
// rows f, columns (n,u,v), contraction (c,i,j); the implicit im2col matrix is X. X is copied into
// the WebAssembly memory with zeros around each image — the pads come from the subscripts' ranges,
// at run time (P before, up to P after) — so every read of the copy is in range. Its offset then
// splits into a column part n·sN + u·T·sH + v·T and a contraction part c·sC + i·sH + j, each
// tabulated once per call ($X_col0, $X_kcol0, in the same memory). Whole panels are gathered by
// WebAssembly (`pack4`); a short last one here, lane by lane,
//   H[q + ll] = X_z[kb + X_col0[l0 + ll]]
// with no bounds test, no `%` and no multiplication, finished with zeros. The panels go to the
// micro-kernel (gemmBlocks.ts), and the epilogue (+ b[f]) is applied as the C block is added into
// Y through the output's own offset tables. The conv input gradient arrives here split into residue
// classes (splitResidueClasses.ts): the same lowering, with output subscripts of its own and run
// inside loops over the classes. A batch index both operands read (a grouped convolution's group g,
// X[n, g*CG+c, …] and K[g, f, c, …]) runs one such GEMM per value, its loop around the blocks: the
// tables serve every group, and each read (and the output) is offset by the group's weight in it.
import { idxVar } from '../ir/affine.js';
import { children, exprKey, freeIndices } from '../ir/exprs.js';
import { printPoly } from '../ir/sizes.js';
import type { Bound, Expr, IndexExpr, Statement } from '../ir/types.js';
import { add, addTo, buffer, c, ceildiv, eq, floordiv, for_, if_, let_, load, lt, max, min, mul, rem, store, sub, sym, v } from '../loop/build.js';
import type { Buf, LExpr, LStmt } from '../loop/types.js';
import { BLOCKING, microModule, simdBlockLoops, simdRegions, type PackBlock } from './gemmBlocks.js';
import type { Access } from './kernelScope.js';
import type { Lowering } from './lowering.js';
import type { MatmulShape } from './matmulShape.js';
import { memoTable } from './memoTable.js';
import { residueClasses, type ResidueSplit } from './splitResidueClasses.js';

/** A tensor read as offset = base + Σ index · weight, from the tensor itself or its padded copy. */
interface Gather {
  readonly array: Buf;
  readonly weight: (index: string) => LExpr;
  readonly base: LExpr;
  /** the copy's byte offset in the WebAssembly memory, when it lives there */
  readonly at?: LExpr;
}

interface Operand {
  readonly value: (kb: LExpr, at: LExpr, looked: boolean) => LExpr;
  /** the offset of the batch's values in the read (0 without a batch) */
  readonly batch: LExpr;
  readonly kTable?: Buf;
  readonly sideTable?: Buf;
  readonly kAt?: LExpr;
  readonly sideAt?: LExpr;
  readonly array?: Gather;
}

/** Bytes up to the next 16-byte boundary, in floating point (`& -16` would wrap past 2 GiB). */
const roundUp16 = (x: LExpr) => mul(ceildiv(x, c(16)), c(16));

/** `view`: the output's subscripts from the statement's left side, when a merged index was split
 * (splitMergedIndex.ts: dX[n, g*CG+cg, h, w] for the statement's dX[n,g,cg,h,w]). */
export function lowerIm2col(L: Lowering, s: Statement, shape: MatmulShape, split?: ResidueSplit, view?: (subs: readonly IndexExpr[]) => IndexExpr[]): LStmt[] | undefined {
  const { scope } = L;
  const dtype = scope.opts.dtype;
  const { MR, NR, MC, NC } = BLOCKING[dtype];
  const module = microModule(dtype);
  const F = scope.F;
  // every factor of an operand must be a read or a number
  if (![...shape.left, ...shape.right].every((f) => f.kind === 'access' || f.kind === 'num')) return undefined;
  [...shape.batch, ...shape.rows, ...shape.cols, ...shape.ks].forEach((b) => scope.extentOf.set(b.name, b.extent));
  const batchSyms = shape.batch.map((b) => sym(b.name, 'i32'));
  /** Σ over the batch indices of index · weight: where one group's slice of a read starts */
  const batchOffset = (weight: (index: string) => LExpr) => shape.batch.reduce((o, b, q) => add(o, mul(v(batchSyms[q]!), weight(b.name))), c(0));
  const out = scope.tensor(s.tensor, 'write');
  const es = dtype === 'float32' ? 4 : 8;
  /** before the loops over the residue classes (the copies), and inside them (tables, blocks) */
  const setup: LStmt[] = [];
  const lines: LStmt[] = [];
  /** copies in the WebAssembly memory, where the packer gathers from them: their tables' and their own room */
  const resident: { tables: { at: ReturnType<typeof sym>; size: LExpr }[]; at: ReturnType<typeof sym>; total: LExpr; stage: ReturnType<typeof sym>; stageSize: LExpr; copy: (at: LExpr, stage: LExpr) => LStmt[] }[] = [];
  const classes = split ? residueClasses(split, scope) : undefined;
  /** tensors gathered so far: a second read of one (an autocorrelation) gets names of its own */
  const gathered = new Map<string, number>();
  const sizeOf = (bs: readonly Bound[]) => bs.reduce((m, b) => mul(m, scope.sizeExpr(b.extent)), c(1));
  const [M, N, K] = [sizeOf(shape.rows), sizeOf(shape.cols), sizeOf(shape.ks)];
  const inRangeOf = (x: Access) => (sub_: IndexExpr, d: number) => split?.inRange.has(`${x.tensor}:${d}`) || scope.subscriptInRange(sub_, scope.ctx.shapeOf(x.tensor)[d]!);
  const extentOfIndex = (name: string) => scope.sizeExpr(scope.extentOf.get(name)!);

  /** How to read x: in place when every subscript is in range, else from a zero-padded copy (in the
   * WebAssembly memory when `wasm`). */
  const gather = (x: Access, wasm: boolean): Gather => {
    const source = scope.tensor(x.tensor, 'read');
    const rank = x.subs.length;
    const dim = (d: number) => scope.dim(x.tensor, d);
    const weightOf = (strides: readonly LExpr[]) => (index: string) =>
      x.subs.flatMap((sub_, d) => sub_.terms.filter((t) => t.atom.kind === 'var' && t.atom.name === index).map((t) => mul(scope.poly(t.coef), strides[d]!))).reduce((a, b) => add(a, b), c(0));
    const inRange = inRangeOf(x);
    if (x.subs.every(inRange)) {
      const strides = x.subs.map((_, d) => scope.stride(x.tensor, d));
      return { array: source, weight: weightOf(strides), base: x.subs.reduce((o, sub_, d) => add(o, mul(scope.poly(sub_.constant), strides[d]!)), c(0)) };
    }
    const seen = gathered.get(x.tensor) ?? 0;
    gathered.set(x.tensor, seen + 1);
    const tag = seen ? `$${x.tensor}${seen + 1}` : `$${x.tensor}`;
    // pads: below, what the smallest subscript value lacks; above, what the largest exceeds
    const sizes: LExpr[] = [];
    const lows = x.subs.map((sub_, d) => {
      if (inRange(sub_, d)) {
        sizes[d] = dim(d);
        return c(0);
      }
      // the smallest and largest value: each term at 0 or at extent − 1, by its coefficient's sign
      const ends = (sign: number) =>
        sub_.terms.reduce((acc, t) => ([...t.coef.values()].every((k) => k * sign > 0) ? add(acc, mul(scope.poly(t.coef), sub(extentOfIndex((t.atom as { name: string }).name), c(1)))) : acc), scope.poly(sub_.constant));
      const { lo, hi } = classes?.reach.get(`${x.tensor}:${d}`) ?? { lo: ends(-1), hi: ends(1) };
      const below = max(c(0), sub(c(0), lo));
      sizes[d] = add(add(dim(d), below), max(c(0), add(sub(hi, dim(d)), c(1))));
      return below;
    });
    const strides: LExpr[] = [];
    for (let d = rank - 1; d >= 0; d--) strides[d] = d === rank - 1 ? c(1) : mul(sizes[d + 1]!, strides[d + 1]!);
    const total = mul(sizes[0]!, strides[0]!);
    const origin = lows.reduce((o, lo, d) => add(o, mul(lo, strides[d]!)), c(0));
    const z = buffer(`${tag}_z`, F);
    const base = x.subs.reduce((o, sub_, d) => add(o, mul(add(scope.poly(sub_.constant), lows[d]!), strides[d]!)), c(0));
    const dense = (d: number) => x.subs.slice(d + 1).reduce((m, _, k) => mul(m, dim(d + 1 + k)), c(1));
    const count = x.subs.reduce((m, _, d) => mul(m, dim(d)), c(1));
    // pads only after the end of the first dimension (the slices of a long sum reading dY[g*4+m, …],
    // splitLongSums.ts): the copy is x itself, then zeros — no staging, no spreading
    const tailOnly = lows.every((lo) => lo.kind === 'const' && lo.value === 0) && x.subs.every((sub_, d) => d === 0 || inRange(sub_, d));
    if (wasm && tailOnly) {
      const at = sym(`${tag}_zat`, 'i32');
      resident.push({
        tables: [],
        at,
        total,
        stage: sym(`${tag}_stage`, 'i32'),
        stageSize: c(0),
        copy: (zAt) => [
          { kind: 'comment', text: `${x.tensor} then zeros (the rows its subscripts reach past its end), so that every read is in range` },
          { kind: 'view', buf: z, module, offset: zAt, count: total },
          { kind: 'copy', dst: z, dstAt: c(0), src: source, srcAt: c(0), count },
          { kind: 'fill', buf: z, from: count, to: total, value: c(0, F) },
        ],
      });
      return { array: z, weight: weightOf(strides), base, at: v(at) };
    }
    if (wasm) {
      // x goes into the memory as it is (one copy), then the spreader lays its rows out with the pads
      // between them: a memory.copy per row, loops here only over the dimensions before the last 3
      const at = sym(`${tag}_zat`, 'i32');
      const stageAt = sym(`${tag}_stage`, 'i32');
      resident.push({
        tables: [],
        at,
        total,
        stage: stageAt,
        stageSize: count,
        copy: (zAt, sAt) => {
          const stage = buffer(`${tag}_staged`, F);
          const bytes = (e: LExpr) => mul(c(es), e);
          const [planes, rows, len] = [rank >= 3 ? dim(rank - 3) : c(1), rank >= 2 ? dim(rank - 2) : c(1), dim(rank - 1)];
          const [dstRow, dstPlane] = [rank >= 2 ? bytes(strides[rank - 2]!) : c(0), rank >= 3 ? bytes(strides[rank - 3]!) : c(0)];
          const outer = Math.max(0, rank - 3);
          const zs = Array.from({ length: outer }, (_, d) => sym(`$z${d}`, 'i32'));
          const t = zs.reduce((o, zv, d) => add(o, mul(v(zv), strides[d]!)), origin);
          const so = zs.reduce((o, zv, d) => add(o, mul(v(zv), dense(d))), c(0));
          const spread: LStmt = { kind: 'microkernel', module, fn: 'spread', args: [add(zAt, bytes(t)), add(sAt, bytes(so)), planes, rows, bytes(len), dstRow, dstPlane] };
          return [
            { kind: 'comment', text: `${x.tensor} with zeros around it (the pads its subscripts reach), so that every read is in range` },
            { kind: 'view', buf: z, module, offset: zAt, count: total },
            { kind: 'fill', buf: z, from: c(0), to: total, value: c(0, F) },
            { kind: 'view', buf: stage, module, offset: sAt, count },
            { kind: 'copy', dst: stage, dstAt: c(0), src: source, srcAt: c(0), count },
            ...zs.reduceRight<LStmt[]>((inner, zv, d) => [for_(zv, c(0), dim(d), inner)], [spread]),
          ];
        },
      });
      return { array: z, weight: weightOf(strides), base, at: v(at) };
    }
    // module scratch (the other factor of a product side is packed in JavaScript anyway)
    const last = rank - 1;
    const src = sym('$src', 'i32');
    const zs = Array.from({ length: last }, (_, d) => sym(`$z${d}`, 'i32'));
    const xi = sym('$x', 'i32');
    const t = zs.reduce((o, zv, d) => add(o, mul(v(zv), strides[d]!)), origin);
    setup.push(
      { kind: 'comment', text: `${x.tensor} with zeros around it (the pads its subscripts reach), so that every read is in range` },
      { kind: 'alloc', buf: z, size: total, scope: 'module', zero: true },
      ...(last === 0
        ? [{ kind: 'copy', dst: z, dstAt: origin, src: source, srcAt: c(0), count: dim(0) } as LStmt]
        : [
            let_(src, c(0), true),
            // rows of the last dimension are contiguous in both; they are short (a conv's image rows),
            // so an element loop beats a copy per row
            ...zs.reduceRight<LStmt[]>((inner, zv, d) => [for_(zv, c(0), dim(d), inner)], [for_(xi, c(0), dim(last), [store(z, add(t, v(xi)), load(source, v(src))), addTo(src, c(1))])]),
          ]),
    );
    return { array: z, weight: weightOf(strides), base };
  };

  /** An Int32Array over the flat multi-index of bs: base + Σ index · weight, kept across calls
   * (memoTable.ts; named after the statement's tensor, so unique in the module); copied into the
   * WebAssembly memory at byte offset `at` when given. */
  const table = (bs: readonly Bound[], size: LExpr, weight: (index: string) => LExpr, base: LExpr, label: string, at?: LExpr): Buf => {
    const q = sym('$q', 'i32');
    const xs = bs.map((b) => sym(`$b_${b.name}`, 'i32'));
    const offset = bs.reduce((o, b, d) => add(o, mul(v(xs[d]!), weight(b.name))), base);
    const fill = (buf: Buf): LStmt[] => [
      let_(q, c(0), true),
      ...xs.reduceRight<LStmt[]>((inner, x, d) => [for_(x, c(0), scope.sizeExpr(bs[d]!.extent), inner)], [store(buf, v(q), offset), addTo(q, c(1))]),
    ];
    const made = memoTable(`$${s.tensor}/${label}`, size, fill, at ? { module, offset: at } : undefined);
    lines.push(...made.stmts);
    return made.table;
  };

  /** The most elements a multi-index over bs has in any residue class (the tables' room). */
  const largest = (bs: readonly Bound[]): LExpr => bs.reduce((m, b) => mul(m, scope.sizeExpr(split?.upper.get(b.name) ?? b.extent)), c(1));
  // the operands: per read, its table over the rows (or columns) and over the contraction. A lone
  // read from a padded copy (the conv's X, the input gradient's dY) lives in the WebAssembly memory
  // with its tables, and the WebAssembly packer gathers its whole panels.
  const operand = (factors: readonly Expr[], sideBounds: readonly Bound[], size: LExpr, tag: string): { ops: Operand[]; wasm: boolean } => {
    const lone = factors.length === 1 && factors[0]!.kind === 'access' ? (factors[0] as Access) : undefined;
    const wasm = lone !== undefined && !lone.subs.every(inRangeOf(lone));
    const ops = factors.map((f, q): Operand => {
      if (f.kind === 'num') return { value: () => c(f.value, F), batch: c(0) };
      const g = gather(f as Access, wasm);
      const r = wasm ? resident[resident.length - 1]! : undefined;
      const sideAt = r ? sym(`$${(f as Access).tensor}_${tag}${q}at`, 'i32') : undefined;
      const kAt = r ? sym(`$${(f as Access).tensor}_k${tag}${q}at`, 'i32') : undefined;
      if (r) r.tables.push({ at: sideAt!, size: largest(sideBounds) }, { at: kAt!, size: largest(shape.ks) });
      const sideTable = table(sideBounds, size, g.weight, c(0), `${(f as Access).tensor}_${tag}${q}`, sideAt && v(sideAt));
      const kTable = table(shape.ks, K, g.weight, g.base, `${(f as Access).tensor}_k${tag}${q}`, kAt && v(kAt));
      const batch = batchOffset(g.weight);
      return {
        // `at`: the flat side index (looked up in the table), or an offset already looked up
        value: (kb, at, looked) => load(g.array, add(add(kb, batch), looked ? at : load(sideTable, at))),
        batch,
        kTable,
        sideTable,
        ...(kAt ? { kAt: v(kAt), sideAt: v(sideAt!) } : {}),
        array: g,
      };
    });
    return { ops, wasm };
  };
  const aSide = operand(shape.left, shape.rows, M, 'row');
  const bSide = operand(shape.right, shape.cols, N, 'col');
  if (resident.length) {
    // the WebAssembly memory past the GEMM's blocks: each resident copy's tables, then the copy, at
    // 16-byte boundaries; grown before any view of it is taken
    const { CP } = simdRegions(dtype);
    let mem: LExpr = c((CP + MC * NC) * es);
    const places: LStmt[] = [];
    for (const r of resident) {
      for (const t of r.tables) {
        places.push(let_(t.at, mem));
        mem = roundUp16(add(v(t.at), mul(c(4), t.size)));
      }
      places.push(let_(r.at, mem));
      mem = roundUp16(add(v(r.at), mul(c(es), r.total)));
      places.push(let_(r.stage, mem));
      mem = add(v(r.stage), mul(c(es), r.stageSize));
    }
    setup.push(...places, { kind: 'microkernel', module, fn: 'reserve', args: [mem] });
    for (const r of resident) setup.push(...r.copy(v(r.at), v(r.stage)));
  }

  // the output: offset tables over rows and columns (a residue class writes every T-th output:
  // h → T·(first + a) + ρ − P), and the left-side indices the epilogue reads outside the sum
  const lhsSubs = split?.out ?? s.lhs.map((b) => idxVar(b.name));
  const outSubs = view ? view(lhsSubs) : lhsSubs;
  const outStrides = outSubs.map((_, d) => scope.stride(s.tensor, d));
  const outWeight = (bs: readonly Bound[]) => (index: string) =>
    bs.some((x) => x.name === index) ? outSubs.flatMap((sub_, d) => sub_.terms.filter((t) => (t.atom as { name: string }).name === index).map((t) => mul(scope.poly(t.coef), outStrides[d]!))).reduce((a, b) => add(a, b), c(0)) : c(0);
  const outBase = outSubs.reduce((o, sub_, d) => add(o, mul(scope.poly(sub_.constant), outStrides[d]!)), c(0));
  const yRow = table(shape.rows, M, outWeight(shape.rows), c(0), `${s.tensor}_row`);
  const outBatch = batchOffset(outWeight(shape.batch));
  const yCol = table(shape.cols, N, outWeight(shape.cols), outBase, `${s.tensor}_col`);
  // a single index is the flat row (column) itself; one of several is looked up in a table of its values
  const used = new Set<string>();
  const walk = (e: Expr): void => {
    if (e === shape.reduction) return;
    if (e.kind === 'access' || e.kind === 'index') freeIndices(e).forEach((x) => used.add(x));
    else children(e).forEach(walk);
  };
  walk(s.rhs);
  const valueTables = new Map<string, Buf>();
  for (const [sideBounds, size, tag] of [[shape.rows, M, 'row'], [shape.cols, N, 'col']] as const)
    if (sideBounds.length > 1) for (const b of sideBounds.filter((x) => used.has(x.name))) valueTables.set(b.name, table(sideBounds, size, (x) => c(x === b.name ? 1 : 0), c(0), `${tag}_${b.name}`));
  const epiVars = (i: LExpr, j: LExpr) => {
    const vars = new Map<string, LExpr>(shape.batch.map((b, q) => [b.name, v(batchSyms[q]!)] as const));
    for (const [sideBounds, flat] of [[shape.rows, i], [shape.cols, j]] as const) {
      if (sideBounds.length === 1) vars.set(sideBounds[0]!.name, flat);
      else for (const b of sideBounds) if (valueTables.has(b.name)) vars.set(b.name, load(valueTables.get(b.name)!, flat));
    }
    return vars;
  };
  const reduction = exprKey(shape.reduction);
  const probe = L.expr(s.rhs, epiVars(c(0), c(0)), new Map([[reduction, c(0, F)]]));
  if (probe.stmts.length) return undefined;
  const epilogue = s.rhs.kind === 'reduce' ? undefined : (cv: LExpr, i: LExpr, j: LExpr) => L.expr(s.rhs, epiVars(i, j), new Map([[reduction, cv]])).value;

  const { AP, BP } = simdRegions(dtype);
  /** one operand block into panels of R lanes: a whole panel reads its R side offsets once and then
   * gathers R values per k; a short last panel goes lane by lane and is finished with zeros */
  const pack = ({ ops, wasm }: { ops: Operand[]; wasm: boolean }, R: number, start: number, h: Buf, block: PackBlock): LStmt[] => {
    const q = sym('$q', 'i32');
    const w = sym('$w', 'i32');
    const l0 = sym('$l0', 'i32');
    /** per k step: each operand's contraction offset */
    const kbs = (p: LExpr) => ops.map((o) => (o.kTable ? sym('$kb', 'i32') : undefined)).map((kb, k) => ({ kb, init: kb ? let_(kb, load(ops[k]!.kTable!, add(block.pc, p))) : undefined }));
    const shortPanel = (): LStmt[] => {
      const p = sym('$p', 'i32');
      const ll = sym('$ll', 'i32');
      const ll2 = sym('$ll', 'i32');
      const ks = kbs(v(p));
      const value = ops.map((o, k) => o.value(ks[k]!.kb ? v(ks[k]!.kb!) : c(0), add(v(l0), v(ll)), false)).reduce((a, b) => mul(a, b));
      return [
        for_(p, c(0), block.kc, [
          ...ks.flatMap((k) => (k.init ? [k.init] : [])),
          for_(ll, c(0), v(w), [store(h, add(v(q), v(ll)), value)]),
          for_(ll2, v(w), c(R), [store(h, add(v(q), v(ll2)), c(0, F))]),
          addTo(q, c(R)),
        ]),
      ];
    };
    if (wasm) {
      const o = ops[0]!;
      const whole = sym('$whole', 'i32');
      return [
        { kind: 'comment', text: 'whole panels by the WebAssembly packer; the short last one lane by lane, with zeros' },
        let_(whole, sub(block.count, rem(block.count, c(R)))),
        { kind: 'microkernel', module, fn: `pack${R}`, args: [c(start * es), add(o.array!.at!, mul(c(es), o.batch)), add(o.kAt!, mul(c(4), block.pc)), add(o.sideAt!, mul(c(4), block.first)), block.kc, floordiv(v(whole), c(R))] },
        ...if_(lt(v(whole), block.count), [
          let_(w, sub(block.count, v(whole))),
          let_(l0, add(block.first, v(whole))),
          let_(q, add(c(start), mul(v(whole), block.kc)), true),
          ...shortPanel(),
        ]),
      ];
    }
    const lp = sym('$lp', 'i32');
    const lanes = Array.from({ length: R }, (_, r) => r);
    const sides = ops.map((o) => (o.sideTable ? lanes.map(() => sym('$s', 'i32')) : undefined));
    const p = sym('$p', 'i32');
    const ks = kbs(v(p));
    return [
      let_(q, c(start), true),
      for_(lp, c(0), block.count, [
        let_(w, min(c(R), sub(block.count, v(lp)))),
        let_(l0, add(block.first, v(lp))),
        ...if_(
          eq(v(w), c(R)),
          [
            ...ops.flatMap((o, k) => (o.sideTable ? lanes.map((r) => let_(sides[k]![r]!, load(o.sideTable!, add(v(l0), c(r))))) : [])),
            for_(p, c(0), block.kc, [
              ...ks.flatMap((k) => (k.init ? [k.init] : [])),
              ...lanes.map((r) => store(h, add(v(q), c(r)), ops.map((o, k) => o.value(ks[k]!.kb ? v(ks[k]!.kb!) : c(0), sides[k] ? v(sides[k]![r]!) : c(0), true)).reduce((a, b) => mul(a, b)))),
              addTo(q, c(R)),
            ]),
          ],
          shortPanel(),
        ),
      ], { step: c(R) }),
    ];
  };
  const i = sym('$i', 'i32');
  const j = sym('$j', 'i32');
  const loops = simdBlockLoops({
    scope, M, N, K, out,
    packA: (h, block) => [{ kind: 'comment', text: `gather A[$ic:$ic+$mc, $pc:$pc+$kc] into panels ${MR} rows tall` }, ...pack(aSide, MR, AP, h, block)],
    packB: (h, block) => [{ kind: 'comment', text: `gather B[$pc:$pc+$kc, $jc:$jc+$nc] into panels ${NR} columns wide` }, ...pack(bSide, NR, BP, h, block)],
    rowOffset: (x) => add(load(yRow, x), outBatch),
    colOffset: (x) => load(yCol, x),
    ...(epilogue ? { epilogue } : {}),
  });
  // an empty contraction (K = 0) still applies the epilogue to 0
  const empty = if_(eq(K, c(0)), [for_(i, c(0), M, [for_(j, c(0), N, [store(out, add(add(load(yRow, v(i)), outBatch), load(yCol, v(j))), epilogue ? epilogue(c(0, F), v(i), v(j)) : c(0, F))])])]);
  // each value of the batch writes its own slice of the output: a loop worker threads may share out
  lines.push(...shape.batch.reduceRight<LStmt[]>((inner, b, q) => [for_(batchSyms[q]!, c(0), scope.sizeExpr(b.extent), inner, { loop: 'parallel' })], [...loops, ...empty]));
  const names = (bs: readonly Bound[]) => bs.map((b) => b.name).join(',');
  const strided = split?.splits.filter((p) => !(p.stride.size === 1 && p.stride.get('') === 1)) ?? [];
  const perClass = !split
    ? ''
    : strided.length
      ? `; one per residue class of ${strided.map((p) => `${p.h} + ${printPoly(p.offset)} modulo ${printPoly(p.stride)}`).join(' and ')}, over its taps`
      : `; ${split.splits.map((p) => p.u).join(',')} run backwards over the taps (the flipped kernel)`;
  return [
    { kind: 'comment', text: `matmul over an implicit im2col: ${shape.batch.length ? `for each ${names(shape.batch)}, ` : ''}rows ${names(shape.rows)}, columns ${names(shape.cols)}, contraction over ${names(shape.ks)}${perClass}; packed ${MR}×${NR} register tiles (WebAssembly SIMD)` },
    ...setup,
    ...(classes ? classes.wrap(lines) : lines),
  ];
}
