// lowerIm2col: a matmul whose operand reads mix left-side and summed indices (a convolution) →
// panels gathered through offset tables from a zero-padded copy, and the WebAssembly micro-kernel.
//
// Worked example, conv forward Y[n,f,u,v] = sum(c,i,j) K[f,c,i,j]*X[n,c,u*T+i-P,v*T+j-P] + b[f]:
// rows f, columns (n,u,v), contraction (c,i,j); the implicit im2col matrix is X. X is copied into
// the WebAssembly memory with zeros around each image — the pads come from the subscripts' ranges,
// at run time (P before, up to P after) — so every read of the copy is in range. Its offset then
// splits into a column part n·sN + u·T·sH + v·T and a contraction part c·sC + i·sH + j, each
// tabulated once per call ($X_col0, $X_kcol0, built with running offsets, in the same memory).
// Whole panels are gathered by WebAssembly (buildGatherPack: $W.pack4(…)); a short last one here,
//   $H[$q + $ll] = $X_z[$kb0 + $X_col0[$l0 + $ll]!]!;
// with no bounds test, no `%` and no multiplication, finished by a loop of zeros. The panels go to
// the micro-kernel of gemm.ts, and the epilogue (+ b[f]) is applied as the C block is added into Y
// through the output's own offset tables. The conv input gradient arrives here split into residue
// classes (splitResidueClasses.ts): the same lowering, with output subscripts of its own and run
// inside loops over the classes.
import type { Bound, Expr, IndexExpr, Statement } from '../ir/types.js';
import { idxVar } from '../ir/affine.js';
import { children, exprKey, freeIndices } from '../ir/exprs.js';
import type { Code, LoopNode, LoweredKernel } from './loops.js';
import { BLOCKING, simdBlockLoops, simdRegions, type MatmulShape } from './gemm.js';
import { residueClassCode, type ResidueSplit } from './splitResidueClasses.js';
import { addCode as add, Lowerer, mulCode as mul, paren, polyCode, type LowerContext, type LowerOptions } from './lowerToLoops.js';

type Access = Extract<Expr, { kind: 'access' }>;

/** A tensor read as offset = base + Σ index · weight, from the tensor itself or its padded copy. */
interface Gather {
  readonly array: string;
  readonly weight: (index: string) => Code;
  readonly base: Code;
}

export function lowerIm2col(
  s: Statement,
  shape: MatmulShape,
  ctx: LowerContext,
  opts: LowerOptions,
  split?: ResidueSplit,
): (Omit<LoweredKernel, 'name' | 'formula'> & { fns: Set<string>; dataType: string }) | undefined {
  const { MR, NR } = BLOCKING[opts.dtype];
  // every factor of an operand must be a read or a number
  if (![...shape.left, ...shape.right].every((f) => f.kind === 'access' || f.kind === 'num')) return undefined;
  const l = new Lowerer(ctx, opts);
  [...shape.rows, ...shape.cols, ...shape.ks].forEach((b) => l.extentOf.set(b.name, b.extent));
  l.useTensor(s.tensor, 'write');
  const arr = l.dataArrayType();
  const es = arr === 'Float32Array' ? 4 : 8;
  const lines: string[] = [];
  // the padded copies, before the loops over the residue classes if any
  const setup: string[] = [];
  /** copies that live in the WebAssembly memory, where buildGatherPack packs from them */
  const resident: { copy: string[]; total: Code; at: string; tables: { at: string; size: Code }[]; stage: { at: string; size: Code } }[] = [];
  const classes = split ? residueClassCode(split, l) : undefined;
  let copies = 0;
  let tables = 0;
  /** tensors gathered so far: a second read of one (an autocorrelation) gets names of its own */
  const gathered = new Map<string, number>();

  const sizeOf = (bs: readonly Bound[], tag: string): Code => {
    if (bs.length === 1) return l.extent(bs[0]!.extent);
    const code = bs.map((b) => paren(l.extent(b.extent))).join(' * ');
    if (!split) return l.konstPublic(`$${tag}size`, code);
    // a class's sizes are its own
    lines.push(`const $${tag}size = ${code};`);
    return `$${tag}size`;
  };
  const [M, N, K] = [sizeOf(shape.rows, 'row'), sizeOf(shape.cols, 'col'), sizeOf(shape.ks, 'k')];

  const inRangeOf = (x: Access) => (sub: IndexExpr, d: number) => split?.inRange.has(`${x.tensor}:${d}`) || l.subscriptInRange(sub, ctx.shapeOf(x.tensor)[d]!);
  /** How to read x: in place when every subscript is in range, else from a zero-padded copy (in the
   * WebAssembly memory when `wasm`). */
  const gather = (x: Access, wasm: boolean): Gather => {
    l.useTensor(x.tensor, 'read');
    const dims = ctx.shapeOf(x.tensor);
    const dim = (d: number) => l.dim(x.tensor, d);
    const terms = (sub: IndexExpr) => sub.terms.map((t) => ({ name: (t.atom as { name: string }).name, coef: polyCode(t.coef, l.sizes) }));
    const weightOf = (strides: readonly Code[]) => (index: string) =>
      x.subs
        .flatMap((sub, d) => terms(sub).filter((t) => t.name === index).map((t) => (t.coef === '-1' ? `-${paren(strides[d]!)}` : mul(t.coef, strides[d]!))))
        .reduce((a, b) => add(a, b), '0');
    const inRange = inRangeOf(x);
    if (x.subs.every(inRange)) {
      const strides = dims.map((_, d) => l.stridePublic(x.tensor, d));
      return { array: x.tensor, weight: weightOf(strides), base: x.subs.map((sub, d) => mul(polyCode(sub.constant, l.sizes), strides[d]!)).reduce(add, '0') };
    }
    // pads: below, what the smallest subscript value lacks; above, what the largest exceeds
    const seen = gathered.get(x.tensor) ?? 0;
    gathered.set(x.tensor, seen + 1);
    const tag = seen ? `$${x.tensor}${seen + 1}` : `$${x.tensor}`;
    const sizes: Code[] = [];
    const lows = x.subs.map((sub, d) => {
      if (inRange(sub, d)) {
        sizes[d] = dim(d);
        return '0';
      }
      // the smallest and largest value: each term at 0 or at extent − 1, by its coefficient's sign
      const ends = (sign: number) =>
        sub.terms.reduce((acc, t) => ([...t.coef.values()].every((v) => v * sign > 0) ? add(acc, mul(polyCode(t.coef, l.sizes), `${paren(l.extent(l.extentOf.get((t.atom as { name: string }).name)!))} - 1`)) : acc), polyCode(sub.constant, l.sizes));
      const { lo, hi } = classes?.reach.get(`${x.tensor}:${d}`) ?? { lo: ends(-1), hi: ends(1) };
      const below = l.konstPublic(`${tag}_lo${d}`, `Math.max(0, -${paren(lo)})`);
      sizes[d] = l.konstPublic(`${tag}_z${d}`, `${dim(d)} + ${below} + Math.max(0, ${hi} - ${paren(dim(d))} + 1)`);
      return below;
    });
    const strides: Code[] = [];
    for (let d = dims.length - 1; d >= 0; d--) strides[d] = d === dims.length - 1 ? '1' : l.konstPublic(`${tag}_zs${d}`, mul(sizes[d + 1]!, strides[d + 1]!));
    const total = l.konstPublic(`${tag}_ztotal`, mul(sizes[0]!, strides[0]!));
    const z = `${tag}_z`;
    const origin = lows.map((lo, d) => mul(lo, strides[d]!)).reduce(add, '0');
    const last = dims.length - 1;
    const copy: string[] = [`// ${x.tensor} with zeros around it (the pads its subscripts reach), so that every read is in range`];
    if (wasm) {
      // x goes into the memory as it is (one `set`), then buildSpreadRows lays its rows out with the
      // pads between them: a memory.copy per row, JS loops only over the dimensions before the last 3
      const count = dims.map((_, d) => paren(dim(d))).join(' * ');
      const stage = `${tag}_stage`;
      resident.push({ copy, total, at: `${z}at`, tables: [], stage: { at: stage, size: count } });
      copy.push(`const ${z} = new ${arr}($W.mem.buffer, ${z}at, ${total});`);
      copy.push(`${z}.fill(0);`);
      copy.push(`new ${arr}($W.mem.buffer, ${stage}, ${count}).set(${x.tensor}.subarray(0, ${count}));`);
      const r = dims.length;
      const bytes = (c: Code) => mul(String(es), c);
      const [planes, rows, len] = [r >= 3 ? dim(r - 3) : '1', r >= 2 ? dim(r - 2) : '1', dim(r - 1)];
      const [dstRow, dstPlane] = [r >= 2 ? bytes(strides[r - 2]!) : '0', r >= 3 ? bytes(strides[r - 3]!) : '0'];
      const outer = Math.max(0, r - 3);
      const dense = (d: number) => dims.slice(d + 1).map((_, k) => paren(dim(d + 1 + k))).join(' * ');
      for (let d = 0; d < outer; d++)
        copy.push(
          `${'  '.repeat(d)}for (let $z${d} = 0, $t${d} = ${d === 0 ? origin : `$t${d - 1}`}, $s${d} = ${d === 0 ? '0' : `$s${d - 1}`}; $z${d} < ${dim(d)}; $z${d}++, $t${d} += ${strides[d]}, $s${d} += ${dense(d)}) {`,
        );
      const [t, sOff] = outer ? [`$t${outer - 1}`, `$s${outer - 1}`] : [origin, '0'];
      copy.push(`${'  '.repeat(outer)}$W.spread(${add(`${z}at`, bytes(t))}, ${add(stage, bytes(sOff))}, ${planes}, ${rows}, ${bytes(len)}, ${dstRow}, ${dstPlane});`);
      for (let d = outer - 1; d >= 0; d--) copy.push(`${'  '.repeat(d)}}`);
    } else {
      // module scratch (the other factor of a product side is packed in TypeScript anyway)
      const scratch = `$copy${es * 8}_${copies++}`;
      l.fns.add(scratch);
      copy.push(`if (${scratch}.length < ${total}) ${scratch} = new ${arr}(${total});`);
      copy.push(`else ${scratch}.fill(0, 0, ${total});`);
      copy.push(`const ${z} = ${scratch};`);
      if (last === 0) copy.push(`${z}.set(${x.tensor}, ${origin});`);
      else {
        // rows of the last dimension are contiguous in both; they are short (a conv's image rows), so
        // an element loop beats a `subarray` + `set` per row
        copy.push(`{`);
        copy.push(`  let $src = 0;`);
        for (let d = 0; d < last; d++)
          copy.push(`${'  '.repeat(d + 1)}for (let $z${d} = 0, $t${d} = ${d === 0 ? origin : `$t${d - 1}`}; $z${d} < ${dim(d)}; $z${d}++, $t${d} += ${strides[d]}) {`);
        copy.push(`${'  '.repeat(last + 1)}for (let $x = 0; $x < ${dim(last)}; $x++) ${z}[$t${last - 1} + $x] = ${x.tensor}[$src++]!;`);
        for (let d = last - 1; d >= 0; d--) copy.push(`${'  '.repeat(d + 1)}}`);
        copy.push(`}`);
      }
      setup.push(...copy);
    }
    return { array: z, weight: weightOf(strides), base: x.subs.map((sub, d) => mul(add(polyCode(sub.constant, l.sizes), lows[d]!), strides[d]!)).reduce(add, '0') };
  };

  /** An Int32Array over the flat multi-index of bs: base + Σ index·weight, by running offsets; in the
   * WebAssembly memory at byte offset `${name}at` when `wasm`. */
  const table = (bs: readonly Bound[], size: Code, weight: (index: string) => Code, base: Code, label: string, wasm = false): string => {
    const name = `$${label}`;
    const t = tables++;
    lines.push(wasm ? `const ${name} = new Int32Array($W.mem.buffer, ${name}at, ${size});` : `const ${name} = new Int32Array(${size});`);
    lines.push(`{`);
    lines.push(`  let $q = 0;`);
    bs.forEach((b, d) => {
      const w = weight(b.name);
      const o = `$o${t}_${d}`;
      lines.push(`${'  '.repeat(d + 1)}for (let $b${t}_${d} = 0, ${o} = ${d === 0 ? base : `$o${t}_${d - 1}`}; $b${t}_${d} < ${l.extent(b.extent)}; $b${t}_${d}++${w === '0' ? '' : `, ${o} += ${w}`}) {`);
    });
    lines.push(`${'  '.repeat(bs.length + 1)}${name}[$q++] = $o${t}_${bs.length - 1};`);
    for (let d = bs.length - 1; d >= 0; d--) lines.push(`${'  '.repeat(d + 1)}}`);
    lines.push(`}`);
    return name;
  };

  // the operands: per read, its table over the rows (or columns) and over the contraction
  // A lone read from a padded copy (the conv's X, the input gradient's dY) lives in the WebAssembly
  // memory with its tables, and buildGatherPack packs its whole panels.
  const operand = (factors: readonly Expr[], side: readonly Bound[], size: Code, tag: string) => {
    const lone = factors.length === 1 && factors[0]!.kind === 'access' ? (factors[0] as Access) : undefined;
    const wasm = lone !== undefined && !lone.subs.every(inRangeOf(lone));
    const ops = factors.map((f, q) => {
      if (f.kind === 'num') return { value: (_: Code, __: Code, ___: boolean) => String(f.value), kTable: undefined, sideTable: undefined };
      const g = gather(f as Access, wasm);
      const sideTable = table(side, size, g.weight, '0', `${(f as Access).tensor}_${tag}${q}`, wasm);
      const kTable = table(shape.ks, K, g.weight, g.base, `${(f as Access).tensor}_k${tag}${q}`, wasm);
      if (wasm) resident[resident.length - 1]!.tables.push({ at: `${sideTable}at`, size: largest(side) }, { at: `${kTable}at`, size: largest(shape.ks) });
      // `at`: the flat side index (looked up in the table), or an offset already looked up
      return { value: (kb: Code, at: Code, looked: boolean) => `${g.array}[${kb} + ${looked ? at : `${sideTable}[${at}]!`}]!`, kTable, sideTable, array: g.array };
    });
    return { ops, wasm };
  };
  /** The most elements a multi-index over bs has in any residue class (the tables' room). */
  const largest = (bs: readonly Bound[]): Code => bs.map((b) => paren(l.extent(split?.upper.get(b.name) ?? b.extent))).join(' * ');
  const aSide = operand(shape.left, shape.rows, M, 'row');
  const bSide = operand(shape.right, shape.cols, N, 'col');
  if (resident.length) {
    // the WebAssembly memory past the GEMM's blocks: each resident copy's tables, then the copy, at
    // 16-byte boundaries; grown before any view of it is taken
    const { CP } = simdRegions(opts.dtype);
    const { MC, NC } = BLOCKING[opts.dtype];
    setup.push(`const $W = ${opts.dtype === 'float32' ? '$gemm32' : '$gemm64'}();`);
    setup.push(`let $mem = ${(CP + MC * NC) * es};`);
    for (const r of resident) {
      // rounded up in floating point: `& -16` would wrap past 2 GiB
      for (const t of r.tables) setup.push(`const ${t.at} = $mem;`, `$mem = Math.ceil(($mem + 4 * ${paren(t.size)}) / 16) * 16;`);
      setup.push(`const ${r.at} = $mem;`, `$mem = Math.ceil(($mem + ${es} * ${paren(r.total)}) / 16) * 16;`);
      setup.push(`const ${r.stage.at} = $mem;`, `$mem += ${es} * ${paren(r.stage.size)};`);
    }
    setup.push(`$W.reserve($mem);`);
    for (const r of resident) setup.push(...r.copy);
  }

  // the output: offset tables over rows and columns, and the left-side indices the epilogue reads
  // (a residue class writes every T-th output: h → T·(first + a) + ρ − P)
  const out = split?.out ?? s.lhs.map((b) => idxVar(b.name));
  const outStrides = out.map((_, d) => l.stridePublic(s.tensor, d));
  const outWeight = (bs: readonly Bound[]) => (index: string) =>
    bs.some((x) => x.name === index) ? out.flatMap((sub, d) => sub.terms.filter((t) => (t.atom as { name: string }).name === index).map((t) => mul(polyCode(t.coef, l.sizes), outStrides[d]!))).reduce(add, '0') : '0';
  const outBase = out.map((sub, d) => mul(polyCode(sub.constant, l.sizes), outStrides[d]!)).reduce(add, '0');
  const yRow = table(shape.rows, M, outWeight(shape.rows), '0', `${s.tensor}_row`);
  const yCol = table(shape.cols, N, outWeight(shape.cols), outBase, `${s.tensor}_col`);
  // the left-side indices the epilogue reads outside the sum (b[f] in the conv forward): a single
  // index is the flat row (column) itself, one of several is looked up in a table of its values
  const used = new Set<string>();
  const walk = (e: Expr): void => {
    if (e === shape.reduction) return;
    if (e.kind === 'access' || e.kind === 'index') freeIndices(e).forEach((v) => used.add(v));
    else children(e).forEach(walk);
  };
  walk(s.rhs);
  const epiVars = new Map<string, Code>();
  const valuesOf = (side: readonly Bound[], size: Code, flat: Code, tag: string) => {
    if (side.length === 1) return void epiVars.set(side[0]!.name, flat);
    for (const b of side.filter((x) => used.has(x.name))) {
      const values = table(side, size, (x) => (x === b.name ? '1' : '0'), '0', `${tag}_${b.name}`);
      epiVars.set(b.name, `${values}[${flat}]!`);
    }
  };
  valuesOf(shape.rows, M, '$i', 'row');
  valuesOf(shape.cols, N, '$j', 'col');
  const epi = l.expr(s.rhs, epiVars, new Map([[exprKey(shape.reduction), '$c']]));
  if (epi.nodes.length) return undefined;

  const { AP, BP } = simdRegions(opts.dtype);
  /** pack one operand block into panels of `R` lanes: a whole panel reads its R side offsets once
   * and then gathers R values per k; a short last panel goes lane by lane and is finished with zeros */
  const pack = ({ ops, wasm }: ReturnType<typeof operand>, R: number, start: number, count: Code, first: Code, indent: string): string[] => {
    const lanes = Array.from({ length: R }, (_, r) => r);
    const kbs = ops.flatMap((o, q) => (o.kTable ? [`const $kb${q} = ${o.kTable}[$pc + $p]!;`] : []));
    /** a short panel of $w lanes from $l0, lane by lane, finished with zeros ($q: where it goes) */
    const shortPanel = (q: string) => [
      `for (let $p = 0${q}; $p < $kc; $p++, $q += ${R}) {`,
      ...kbs.map((x) => `  ${x}`),
      `  for (let $ll = 0; $ll < $w; $ll++) $H[$q + $ll] = ${ops.map((o, k) => o.value(`$kb${k}`, '$l0 + $ll', false)).join(' * ')};`,
      `  for (let $ll = $w; $ll < ${R}; $ll++) $H[$q + $ll] = 0;`,
      `}`,
    ];
    if (wasm) {
      const o = ops[0]!;
      return [
        `// whole panels by the WebAssembly packer (buildGatherPack); the short last one lane by lane, with zeros`,
        `const $whole = ${count} & ${-R};`,
        `$W.pack${R}(${start * es}, ${o.array}at, ${o.kTable}at + 4 * $pc, ${o.sideTable}at + 4 * ${first}, $kc, $whole >> ${Math.log2(R)});`,
        `if ($whole < ${count}) {`,
        `  const $w = ${count} - $whole;`,
        `  const $l0 = ${first} + $whole;`,
        ...shortPanel(`, $q = ${start} + $whole * $kc`).map((x) => `  ${x}`),
        `}`,
      ].map((x) => indent + x);
    }
    const sides = ops.flatMap((o, q) => (o.sideTable ? [`const ${lanes.map((r) => `$s${q}_${r} = ${o.sideTable}[$l0${r ? ` + ${r}` : ''}]!`).join(', ')};`] : []));
    const out = [
      `let $q = ${start};`,
      `for (let $lp = 0; $lp < ${count}; $lp += ${R}) {`,
      `  const $w = Math.min(${R}, ${count} - $lp);`,
      `  const $l0 = ${first} + $lp;`,
      `  if ($w === ${R}) {`,
      ...sides.map((x) => `    ${x}`),
      `    for (let $p = 0; $p < $kc; $p++, $q += ${R}) {`,
      ...kbs.map((x) => `      ${x}`),
      ...lanes.map((r) => `      $H[$q${r ? ` + ${r}` : ''}] = ${ops.map((o, q) => o.value(`$kb${q}`, `$s${q}_${r}`, true)).join(' * ')};`),
      `    }`,
      `    continue;`,
      `  }`,
      ...shortPanel('').map((x) => `  ${x}`),
      `}`,
    ];
    return out.map((x) => indent + x);
  };
  const run = simdBlockLoops({
    dtype: opts.dtype,
    M,
    N,
    K,
    packA: (indent) => [`${indent}// gather A[$ic:$ic+$mc, $pc:$pc+$kc] into panels ${MR} rows tall`, ...pack(aSide, MR, AP, '$mc', '$ic', indent)],
    packB: (indent) => [`${indent}// gather B[$pc:$pc+$kc, $jc:$jc+$nc] into panels ${NR} columns wide`, ...pack(bSide, NR, BP, '$nc', '$jc', indent)],
    haveW: resident.length > 0,
    rowOffset: `${yRow}[$i]!`,
    colOffset: `${yCol}[$j]!`,
    tensor: s.tensor,
    epi: epi.value,
  });
  l.fns.add(run.fn);
  lines.push(...run.lines);
  // an empty contraction (K = 0) still applies the epilogue to 0
  lines.push(`if (${K} === 0) {`);
  lines.push(`  for (let $i = 0; $i < ${M}; $i++) for (let $j = 0; $j < ${N}; $j++) {`);
  lines.push(`    const $c = 0;`);
  lines.push(`    ${s.tensor}[${yRow}[$i]! + ${yCol}[$j]!] = ${epi.value};`);
  lines.push(`  }`);
  lines.push(`}`);
  const names = (bs: readonly Bound[]) => bs.map((b) => b.name).join(',');
  const strided = split?.splits.filter((p) => polyCode(p.stride, l.sizes) !== '1') ?? [];
  const perClass = !split
    ? ''
    : strided.length
      ? `; one per residue class of ${strided.map((p) => `${p.h} + ${polyCode(p.offset, l.sizes)} modulo ${polyCode(p.stride, l.sizes)}`).join(' and ')}, over its taps`
      : `; ${split.splits.map((p) => p.u).join(',')} run backwards over the taps (the flipped kernel)`;
  const body: LoopNode[] = [
    {
      k: 'comment',
      text: `matmul over an implicit im2col: rows ${names(shape.rows)}, columns ${names(shape.cols)}, contraction over ${names(shape.ks)}${perClass}; packed ${MR}×${NR} register tiles (WebAssembly SIMD)`,
    },
    { k: 'raw', lines: [...setup, ...(classes ? [...classes.open, ...lines.map((x) => '  '.repeat(split!.splits.length + 1) + x), ...classes.close] : lines)] },
  ];
  // the class constants ($rho0, …) are locals, not sizes the caller passes
  const sizes = [...l.sizes].filter((n) => !n.startsWith('$')).sort();
  return { tensors: [...l.tensors.values()], sizes, body: [...l.prologue(), ...body], fns: l.fns, dataType: arr };
}
