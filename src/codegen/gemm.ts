// lowerMatmul: a matmul-shaped statement → packed operands, a register micro-kernel and an epilogue.
//
// Worked example, the AffineReLU backward dX[n,d] = sum(f) (Y[n,f] > 0)*W[f,d]*dY[n,f]:
// rows n, columns d, contraction f. The factors over (n,f) form the A operand, (Y > 0)·dY — the
// ReLU mask is applied while A is packed, so no masked temporary exists; W over (f,d) is B.
// Blocks of KC×NC of B and MC×KC of A are packed into panels NR columns (MR rows) wide, and an
// MR×NR tile of C lives in registers while the micro-kernel walks the KC panel
// (4×4 for float64, 4×8 for float32). With `simd` (the default) the panels are packed straight into
// the memory of a WebAssembly SIMD macro-kernel (buildMicroKernel.ts), one call per block computes
// the C block, and the TypeScript adds it into the output:
//   $W.run(0, 131072, 1179648, $mc, $nc, $kc, 4096);
//   … dX[$o] = ($first ? 0 : dX[$o]!) + $H[$q]!;
// Without it the micro-kernel is unrolled JavaScript over 16 local accumulators:
//   $c00 += $a0 * $b0; $c01 += $a0 * $b1; …
// An elementwise epilogue (bias + ReLU in the affine forward) is applied on the last K block, so it
// is fused too: Y[$o] = $last ? relu($c + b[$j]!) : $c. The panels live in module scratch, reused
// across calls. A convolution (an operand read mixing output and summed indices) is handed to
// lowerIm2col.ts, which gathers its implicit im2col operand for the same micro-kernel.
import { children, exprKey, freeIndices } from '../ir/exprs.js';
import type { Bound, Expr, Statement } from '../ir/types.js';
import type { Code, LoopNode, LoweredKernel } from './loops.js';
import { Lowerer, reductionsIn, type LowerContext, type LowerOptions } from './lowerToLoops.js';
import { microModuleBytes } from '../target/wasm/microModules.js';
import { lowerIm2col } from './lowerIm2col.js';
import { splitResidueClasses } from './splitResidueClasses.js';

export const BLOCKING = {
  float64: { MR: 4, NR: 4, MC: 64, KC: 256, NC: 512 },
  float32: { MR: 4, NR: 8, MC: 64, KC: 256, NC: 512 },
} as const;

/**
 * The module-level code that instantiates a dtype's WebAssembly kernels on first use: the GEMM
 * macro-kernel (buildMicroKernel), the panel packers of an implicit im2col (buildGatherPack, one
 * per panel width) and the row spreader that pads its copies (buildSpreadRows). Its memory holds the packed A block at 0, the packed B block at MC·KC and the C
 * block at MC·KC + KC·NC (elements); a convolution puts its padded copy and offset tables after them,
 * growing the memory first (`reserve`, which makes `mem` again: take views after it). Without
 * WebAssembly SIMD (browsers before 2021–2023) the first call says how to emit plain JavaScript.
 */
export function gemmPrelude(dtype: 'float32' | 'float64'): string {
  const { MR, NR, MC, KC, NC } = BLOCKING[dtype];
  const [es, arr, name] = dtype === 'float64' ? [8, 'Float64Array', '$gemm64'] : [4, 'Float32Array', '$gemm32'];
  const pages = Math.ceil(((MC * KC + KC * NC + MC * NC) * es) / 65536);
  const widths = [...new Set([MR, NR])];
  const packs = widths.map((R) => `pack${R}`);
  const bytes = microModuleBytes(dtype, pages);
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  const fns = `run: $GemmRun; ${packs.map((p) => `${p}: $GemmPack; `).join('')}spread: $GemmSpread;`;
  const type = `{ ${fns} mem: ${arr}; reserve(bytes: number): void }`;
  return [
    `type $GemmRun = (ap: number, bp: number, c: number, mc: number, nc: number, kc: number, ldc: number) => void;`,
    `type $GemmPack = (dst: number, src: number, ktab: number, side: number, kc: number, panels: number) => void;`,
    `type $GemmSpread = (dst: number, src: number, planes: number, rows: number, rowBytes: number, dstRow: number, dstPlane: number) => void;`,
    // a runtime global (Node 8+, every browser) that TypeScript's ES library does not declare; declared
    // in the module so that it type-checks with no DOM or Node types
    `declare const WebAssembly: {`,
    `  validate(bytes: Uint8Array): boolean;`,
    `  Module: new (bytes: Uint8Array) => object;`,
    `  Instance: new (module: object) => { exports: { ${fns} memory: { buffer: ArrayBuffer; grow(pages: number): number } } };`,
    `};`,
    `let ${name}Instance: ${type} | undefined;`,
    `/** The packed-GEMM macro-kernel, ${dtype} ${MR}×${NR} register tiles in WebAssembly SIMD (deltagrad's buildMicroKernel):`,
    ` * run(ap, bp, c, mc, nc, kc, ldc) computes a C block from packed panels in mem (offsets in bytes);`,
    ` * ${packs.join(', ')}(dst, src, ktab, side, kc, panels) gather im2col panels (buildGatherPack);`,
    ` * spread(dst, src, planes, rows, rowBytes, dstRow, dstPlane) lays rows out with gaps, for padded copies (buildSpreadRows). */`,
    `function ${name}(): ${type} {`,
    `  if (${name}Instance) return ${name}Instance;`,
    `  const hex = '${hex}';`,
    `  const bytes = new Uint8Array(hex.length / 2);`,
    `  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);`,
    `  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes))`,
    `    throw new Error('deltagrad: this module multiplies matrices with WebAssembly SIMD, which this runtime lacks (it needs Node 16.4+, Chrome 91+, Firefox 89+ or Safari 16.4+); emit it with { simd: false } for plain JavaScript loops');`,
    `  const { run, ${packs.join(', ')}, spread, memory } = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;`,
    `  const w: ${type} = {`,
    `    run,`,
    ...packs.map((p) => `    ${p},`),
    `    spread,`,
    `    mem: new ${arr}(memory.buffer),`,
    `    reserve(bytes: number) {`,
    `      const have = memory.buffer.byteLength;`,
    `      if (have >= bytes) return;`,
    // a 32-bit WebAssembly memory ends at 4 GiB (less where the runtime says so)
    `      try {`,
    `        memory.grow(Math.ceil((bytes - have) / 65536));`,
    `      } catch {`,
    `        throw new RangeError('deltagrad: this kernel needs ' + Math.ceil(bytes / 2 ** 20) + ' MiB of WebAssembly memory for its padded copies, more than the runtime gives (at most 4 GiB); emit or compile it with { simd: false } for tensors this large');`,
    `      }`,
    `      w.mem = new ${arr}(memory.buffer);`,
    `    },`,
    `  };`,
    `  return (${name}Instance = w);`,
    `}`,
  ].join('\n');
}

export interface MatmulShape {
  /** row, column and contraction indices: several make a multi-index (conv: columns n,u,v) */
  readonly rows: readonly Bound[];
  readonly cols: readonly Bound[];
  readonly ks: readonly Bound[];
  readonly reduction: Extract<Expr, { kind: 'reduce' }>;
  readonly left: Expr[];
  readonly right: Expr[];
  /** an operand read mixes a left-side and a summed index (a convolution's implicit im2col) */
  readonly mixed: boolean;
}

/**
 * Y[rows…, cols…] = epilogue(Σ_{ks} left(rows, ks)·right(ks, cols))? The factors of the sum fall in
 * two groups that share no left-side index; each group's left-side indices become the rows or the
 * columns (several make a multi-index: a batched Y[b,i,j] = Σ_k A[b,i,k]·B[k,j] has rows b,i).
 * Subscripts must be plain or affine in one kind of index: a subscript mixing a left-side and a
 * summed index (a convolution) is left to the direct loops.
 */
export function matmulShape(s: Statement, descending = false): MatmulShape | undefined {
  if (s.lhs.length < 2) return undefined;
  const found: Expr[] = [];
  const walk = (e: Expr) => {
    if (e.kind === 'reduce' || e.kind === 'argmax') {
      found.push(e);
      return;
    }
    for (const c of children(e)) walk(c);
  };
  walk(s.rhs);
  if (found.length !== 1 || found[0]!.kind !== 'reduce') return undefined;
  const r = found[0] as Extract<Expr, { kind: 'reduce' }>;
  if (r.op !== 'sum') return undefined;
  const lhs = s.lhs.map((b) => b.name);
  const ks = r.indices.map((b) => b.name);
  const factors = r.body.kind === 'mul' ? r.body.factors : [r.body];
  const groups: { vars: Set<string>; factors: Expr[] }[] = [];
  const free: Expr[] = [];
  let mixed = false;
  for (const f of factors) {
    if (reductionsIn(f).length > 0) return undefined;
    if (!readsAreDense(f, lhs, ks)) {
      if (!readsAreMonotone(f, descending)) return undefined;
      mixed = true;
    }
    const fv = freeIndices(f);
    if (fv.some((v) => !lhs.includes(v) && !ks.includes(v))) return undefined;
    const mine = fv.filter((v) => lhs.includes(v));
    if (mine.length === 0) {
      free.push(f);
      continue;
    }
    const joined = groups.filter((g) => mine.some((v) => g.vars.has(v)));
    const merged = { vars: new Set([...mine, ...joined.flatMap((g) => [...g.vars])]), factors: [...joined.flatMap((g) => g.factors), f] };
    for (const g of joined) groups.splice(groups.indexOf(g), 1);
    groups.push(merged);
  }
  if (groups.length !== 2) return undefined;
  // every left-side index must be a row or a column
  if (!lhs.every((v) => groups.some((g) => g.vars.has(v)))) return undefined;
  // rows: the group with fewer indices (the filters of a conv); on a tie the one holding the first index
  const [g0, g1] = groups as [(typeof groups)[0], (typeof groups)[0]];
  const first = (g: (typeof groups)[0]) => Math.min(...[...g.vars].map((v) => lhs.indexOf(v)));
  const rowsG = g0.vars.size !== g1.vars.size ? (g0.vars.size < g1.vars.size ? g0 : g1) : first(g0) < first(g1) ? g0 : g1;
  const colsG = rowsG === g0 ? g1 : g0;
  const pick = (g: (typeof groups)[0]) => s.lhs.filter((b) => g.vars.has(b.name));
  return { rows: pick(rowsG), cols: pick(colsG), ks: r.indices, reduction: r, left: [...free, ...rowsG.factors], right: colsG.factors, mixed };
}

/** Reads whose subscripts are sums of indices with positive coefficients (numbers or sizes) plus a
 * constant, as a convolution's X[n, c, u*T+i-P, v*T+j-P]: each subscript's range is then [constant,
 * constant + Σ coefficient·(extent − 1)], which lowerIm2col pads to. With `descending`, negative
 * coefficients too (a residue class of a conv input gradient reads dY[n, f, first+h-u, …]), whose
 * terms reach down instead. A summed index running backwards could read mostly zeros (K[f,c,h+P-u*T]
 * over all of u), so only splitResidueClasses, which bounds such indices by the taps, asks for it. */
function readsAreMonotone(e: Expr, descending: boolean): boolean {
  let ok = true;
  const visit = (x: Expr) => {
    if (x.kind === 'index') ok = false;
    if (x.kind === 'access')
      for (const sub of x.subs)
        for (const t of sub.terms) {
          const signs = [...t.coef.values()];
          const uniform = signs.every((v) => v > 0) || (descending && signs.every((v) => v < 0));
          if (t.atom.kind !== 'var' || !uniform) ok = false;
        }
    children(x).forEach(visit);
  };
  visit(e);
  return ok;
}

/** No quotient/remainder subscripts, and no left-side index mixed with a summed one. */
function readsAreDense(e: Expr, lhs: readonly string[], ks: readonly string[]): boolean {
  let ok = true;
  const visit = (x: Expr) => {
    if (x.kind === 'access') {
      x.subs.forEach((sub) => {
        if (sub.terms.some((t) => t.atom.kind !== 'var')) ok = false;
        const vs = sub.terms.map((t) => (t.atom as { name: string }).name);
        // a left-side index mixed with a summed one (the implicit im2col of a convolution) would
        // need a padding test per packed element: such statements keep the direct loops, whose
        // bounds come from the padding instead
        if (vs.some((v) => lhs.includes(v)) && vs.some((v) => ks.includes(v))) ok = false;
      });
    }
    if (x.kind === 'index') ok = false;
    children(x).forEach(visit);
  };
  visit(e);
  return ok;
}

const product = (fs: readonly Expr[]): Expr => (fs.length === 1 ? fs[0]! : { kind: 'mul', factors: fs });
const paren = (c: Code): Code => (/^[\w$]+(\[[^\]]*\]!)?$/.test(c) ? c : `(${c})`);

/**
 * The blocked loops around the WebAssembly macro-kernel, shared by lowerMatmul and lowerIm2col: for
 * each NC-column block and KC-deep slice of the contraction, pack B; for each MC-row block, pack A,
 * run the macro-kernel on the block, and add the C block into the output through `rowOffset` (in $i)
 * and `colOffset` (in $j), applying the epilogue `epi` (in $c) on the last slice. The packing code
 * writes the module memory $H at element offsets AP (A) and BP (B).
 */
export function simdBlockLoops(o: {
  readonly dtype: 'float32' | 'float64';
  readonly M: Code;
  readonly N: Code;
  readonly K: Code;
  readonly packA: (indent: string) => string[];
  readonly packB: (indent: string) => string[];
  readonly rowOffset: Code;
  readonly colOffset: Code;
  readonly tensor: string;
  readonly epi: Code;
  /** `$W` (the instance) is already in scope */
  readonly haveW?: boolean;
}): { lines: string[]; fn: string } {
  const { MC, KC, NC } = BLOCKING[o.dtype];
  const { M, N, K } = o;
  const es = o.dtype === 'float32' ? 4 : 8;
  const { BP, CP } = simdRegions(o.dtype);
  const fn = o.dtype === 'float32' ? '$gemm32' : '$gemm64';
  const lines = [
    ...(o.haveW ? [] : [`const $W = ${fn}();`]),
    `const $H = $W.mem;`,
    // the K slices split K evenly (784 = 4 × 196, not 3 × 256 + 16: a short last slice pays the C
    // block's load and store for few multiply-adds)
    `const $KC = Math.ceil(${K} / Math.max(1, Math.ceil(${K} / ${KC})));`,
    `for (let $jc = 0; $jc < ${N}; $jc += ${NC}) {`,
    `  const $nc = Math.min(${NC}, ${N} - $jc);`,
    `  for (let $pc = 0; $pc < ${K}; $pc += $KC) {`,
    `    const $kc = Math.min($KC, ${K} - $pc);`,
    `    const $first = $pc === 0;`,
    `    const $last = $pc + $kc >= ${K};`,
    ...o.packB('    '),
    `    for (let $ic = 0; $ic < ${M}; $ic += ${MC}) {`,
    `      const $mc = Math.min(${MC}, ${M} - $ic);`,
    ...o.packA('      '),
    `      // C block = packed A · packed B (offsets of A, B and C in bytes, then mc, nc, kc and C's row stride)`,
    `      $W.run(0, ${BP * es}, ${CP * es}, $mc, $nc, $kc, ${NC * es});`,
    `      for (let $ii = 0; $ii < $mc; $ii++) {`,
    `        const $i = $ic + $ii;`,
    `        const $row = ${o.rowOffset};`,
    `        for (let $jj = 0, $r = ${CP} + $ii * ${NC}; $jj < $nc; $jj++, $r++) {`,
    `          const $j = $jc + $jj;`,
    `          const $o = $row + ${o.colOffset};`,
    `          const $c = ($first ? 0 : ${o.tensor}[$o]!) + $H[$r]!;`,
    `          ${o.tensor}[$o] = ${o.epi === '$c' ? '$c' : `$last ? ${o.epi} : $c`};`,
    `        }`,
    `      }`,
    `    }`,
    `  }`,
    `}`,
  ];
  return { lines, fn };
}

/** Where the packed A block, the packed B block and the C block start in the module memory (elements). */
export function simdRegions(dtype: 'float32' | 'float64'): { AP: number; BP: number; CP: number } {
  const { MC, KC, NC } = BLOCKING[dtype];
  return { AP: 0, BP: MC * KC, CP: MC * KC + KC * NC };
}

export function lowerMatmul(s: Statement, ctx: LowerContext, opts: LowerOptions): (Omit<LoweredKernel, 'name' | 'formula'> & { fns: Set<string>; dataType: string }) | undefined {
  const shape = matmulShape(s);
  if (!shape) {
    // a conv input gradient: one im2col matmul per residue class of its strided taps
    const split = opts.simd ? splitResidueClasses(s, ctx) : undefined;
    const inner = split && matmulShape(split.statement, true);
    return split && inner?.mixed ? lowerIm2col(split.statement, inner, ctx, opts, split) : undefined;
  }
  // a convolution: with SIMD through the im2col gather; without, the register-tiled direct loops
  if (shape.mixed) return opts.simd ? lowerIm2col(s, shape, ctx, opts) : undefined;
  const { MR, NR, MC, KC, NC } = BLOCKING[opts.dtype];
  const l = new Lowerer(ctx, opts);
  [...shape.rows, ...shape.cols, ...shape.ks].forEach((b) => l.extentOf.set(b.name, b.extent));
  l.useTensor(s.tensor, 'write');
  const arr = l.dataArrayType();
  const lines: string[] = [];
  // one flat index per side; a multi-index side reads its indices from tables built once per call
  const side = (bs: readonly Bound[], flat: string, tag: string): { size: Code; vars: [string, Code][]; at: (f: Code) => [string, Code][] } => {
    const exts = bs.map((b) => l.extent(b.extent));
    if (bs.length === 1) return { size: exts[0]!, vars: [[bs[0]!.name, flat]], at: (f) => [[bs[0]!.name, f]] };
    const size = l.konstPublic(`$${tag}size`, exts.map((e) => (/^[\w$]+$/.test(e) ? e : `(${e})`)).join(' * '));
    bs.forEach((b) => lines.push(`const $${tag}_${b.name} = new Int32Array(${size});`));
    const x = (b: Bound) => `$x_${b.name}`;
    lines.push(`for (let $f = 0${bs.map((b) => `, ${x(b)} = 0`).join('')}; $f < ${size}; $f++) {`);
    bs.forEach((b) => lines.push(`  $${tag}_${b.name}[$f] = ${x(b)};`));
    // odometer: advance the last index, carry into the ones before it
    let carry = `++${x(bs[0]!)};`;
    for (let d = 1; d < bs.length; d++) carry = `if (++${x(bs[d]!)} === ${exts[d]}) { ${x(bs[d]!)} = 0; ${carry} }`;
    lines.push(`  ${carry}`);
    lines.push(`}`);
    const at = (f: Code) => bs.map((b) => [b.name, `$${tag}_${b.name}[${f}]!`] as [string, Code]);
    return { size, vars: at(flat), at };
  };
  const rows = side(shape.rows, '$i', 'row');
  const cols = side(shape.cols, '$j', 'col');
  const kk = side(shape.ks, '$k', 'k');
  const [M, N, K] = [rows.size, cols.size, kk.size];
  const vars = new Map<string, Code>([...rows.vars, ...cols.vars, ...kk.vars]);
  const none = new Map<string, Code>();
  // operand element code: A(i, p) and B(p, j)
  const aCode = l.expr(product(shape.left), vars, none);
  const bCode = l.expr(product(shape.right), vars, none);
  const epi = l.expr(s.rhs, vars, new Map([[exprKey(shape.reduction), '$c']]));
  if (aCode.nodes.length || bCode.nodes.length || epi.nodes.length) return undefined;
  // where C[i, j] lives in the output: row part + column part of the row-major offset
  const outStride = (b: Bound) => l.stridePublic(s.tensor, s.lhs.indexOf(b));
  const offsetOf = (bs: readonly Bound[], vs: [string, Code][]) => bs.map((b, q) => (outStride(b) === '1' ? vs[q]![1] : `${paren(vs[q]![1])} * ${outStride(b)}`)).join(' + ');
  const rowOff = offsetOf(shape.rows, rows.vars);
  const colOff = offsetOf(shape.cols, cols.vars);
  const plus = (v: Code, d: number) => (d ? `${v} + ${d}` : v);
  // the end of every variant: the K = 0 case, and the kernel
  const finish = () => {
    // an empty contraction (K = 0) still applies the epilogue to 0
    lines.push(`if (${K} === 0) {`);
    lines.push(`  for (let $i = 0; $i < ${M}; $i++) for (let $j = 0; $j < ${N}; $j++) {`);
    lines.push(`    const $c = 0;`);
    lines.push(`    ${s.tensor}[${rowOff} + ${colOff}] = ${epi.value};`);
    lines.push(`  }`);
    lines.push(`}`);
    const body: LoopNode[] = [
      {
        k: 'comment',
        text: `matmul: rows ${shape.rows.map((b) => b.name).join(',')}, columns ${shape.cols.map((b) => b.name).join(',')}, contraction over ${shape.ks.map((b) => b.name).join(',')}; packed ${MR}×${NR} register tiles${opts.simd ? ' (WebAssembly SIMD)' : ''}`,
      },
      { k: 'raw', lines },
    ];
    return {
      tensors: [...l.tensors.values()],
      sizes: [...l.sizes].sort(),
      body: [...l.prologue(), ...body],
      fns: l.fns,
      dataType: arr,
    };
  };
  // The packed panels live in module scratch, reused by every call: allocating and zeroing them per
  // call cost 0.1–0.6 ms (page faults on fresh memory). Kernels run to completion and call nothing
  // that could re-enter them, so one buffer per module is enough; every element a call reads was
  // packed by that call, so stale contents never matter. With `simd` the scratch is the memory of the
  // module's WebAssembly macro-kernel ($gemm64 / $gemm32, buildMicroKernel.ts): fixed regions for
  // A (MC×KC), B (KC×NC) and the C block (MC×NC); otherwise a typed array grown on demand.
  const { AP, BP } = simdRegions(opts.dtype);
  const [Apack, Bpack] = opts.simd ? ['$H', '$H'] : ['$Ap', '$Bp'];
  // the packing loops, indented by the caller: panels R lanes wide, zeros past the edge of the last
  const panels = (o: { what: string; dst: string; at: string; start: number; R: number; panel: string; lane: string; index: string; count: string; first: string; code: Code }) => (indent: string): string[] =>
    [
      `// pack ${o.what}`,
      `let ${o.at} = ${o.start};`,
      `for (let ${o.panel} = 0; ${o.panel} < ${o.count}; ${o.panel} += ${o.R}) {`,
      `  for (let $p = 0; $p < $kc; $p++) {`,
      `    const $k = $pc + $p;`,
      `    for (let ${o.lane} = 0; ${o.lane} < ${o.R}; ${o.lane}++) {`,
      `      const ${o.index} = ${o.first} + ${o.panel} + ${o.lane};`,
      `      ${o.dst}[${o.at}++] = ${o.panel} + ${o.lane} < ${o.count} ? ${o.code} : 0;`,
      `    }`,
      `  }`,
      `}`,
    ].map((x) => indent + x);
  const packB = panels({ what: `B[$pc:$pc+$kc, $jc:$jc+$nc] into panels ${NR} columns wide (zeros past the edge)`, dst: Bpack, at: '$q', start: opts.simd ? BP : 0, R: NR, panel: '$jp', lane: '$jj', index: '$j', count: '$nc', first: '$jc', code: bCode.value });
  const packA = panels({ what: `A[$ic:$ic+$mc, $pc:$pc+$kc] into panels ${MR} rows tall`, dst: Apack, at: '$r', start: AP, R: MR, panel: '$ip', lane: '$ii', index: '$i', count: '$mc', first: '$ic', code: aCode.value });
  if (opts.simd) {
    const run = simdBlockLoops({ dtype: opts.dtype, M, N, K, packA, packB, rowOffset: rowOff, colOffset: colOff, tensor: s.tensor, epi: epi.value });
    l.fns.add(run.fn);
    lines.push(...run.lines);
    return finish();
  }
  // K slices as in simdBlockLoops
  lines.push(`const $KC = Math.ceil(${K} / Math.max(1, Math.ceil(${K} / ${KC})));`);
  const scratch = arr === 'Float32Array' ? '$pack32' : '$pack64';
  l.fns.add(scratch);
  lines.push(`const $B0 = ${MC} * $KC;`);
  lines.push(`const $need = $B0 + $KC * Math.ceil(Math.min(${NC}, ${N}) / ${NR}) * ${NR};`);
  lines.push(`if (${scratch}.length < $need) ${scratch} = new ${arr}($need);`);
  lines.push(`const $Ap = ${scratch}.subarray(0, $B0);`);
  lines.push(`const $Bp = ${scratch}.subarray($B0, $need);`);
  lines.push(`const $t = new Float64Array(${MR * NR});`);
  lines.push(`for (let $jc = 0; $jc < ${N}; $jc += ${NC}) {`);
  lines.push(`  const $nc = Math.min(${NC}, ${N} - $jc);`);
  lines.push(`  for (let $pc = 0; $pc < ${K}; $pc += $KC) {`);
  lines.push(`    const $kc = Math.min($KC, ${K} - $pc);`);
  lines.push(`    const $first = $pc === 0;`);
  lines.push(`    const $last = $pc + $kc >= ${K};`);
  lines.push(...packB('    '));
  lines.push(`    for (let $ic = 0; $ic < ${M}; $ic += ${MC}) {`);
  lines.push(`      const $mc = Math.min(${MC}, ${M} - $ic);`);
  lines.push(...packA('      '));
  lines.push(`      for (let $jr = 0; $jr < $nc; $jr += ${NR}) {`);
  lines.push(`        for (let $ir = 0; $ir < $mc; $ir += ${MR}) {`);
  const acc = (i: number, j: number) => `$c${i}${j}`;
  const accs: string[] = [];
  for (let i = 0; i < MR; i++) for (let j = 0; j < NR; j++) accs.push(`${acc(i, j)} = 0`);
  lines.push(`          let ${accs.join(', ')};`);
  lines.push(`          let $pa = $ir * $kc;`);
  lines.push(`          let $pb = $jr * $kc;`);
  // `| 0` makes the panel index an int32 add: without it V8 adds an overflow check to every load
  const at = (base: string, d: number) => (d ? `(${base} + ${d}) | 0` : base);
  lines.push(`          for (let $p = 0; $p < $kc; $p++, $pa += ${MR}, $pb += ${NR}) {`);
  lines.push(`            const ${Array.from({ length: MR }, (_, i) => `$a${i} = $Ap[${at('$pa', i)}]!`).join(', ')};`);
  lines.push(`            const ${Array.from({ length: NR }, (_, j) => `$b${j} = $Bp[${at('$pb', j)}]!`).join(', ')};`);
  for (let i = 0; i < MR; i++) lines.push(`            ${Array.from({ length: NR }, (_, j) => `${acc(i, j)} += $a${i} * $b${j};`).join(' ')}`);
  lines.push(`          }`);
  // a full tile is stored straight from the accumulators; edge tiles go through $t, element by element
  lines.push(`          if ($ir + ${MR} <= $mc && $jr + ${NR} <= $nc) {`);
  lines.push(`            const $i0 = $ic + $ir;`);
  lines.push(`            const $j0 = $jc + $jr;`);
  // row offsets of the tile; a single contiguous column index adds its column to them
  const colsContiguous = shape.cols.length === 1 && outStride(shape.cols[0]!) === '1';
  const tileRow = (i: number) => offsetOf(shape.rows, rows.at(plus('$i0', i)));
  lines.push(`            const ${Array.from({ length: MR }, (_, i) => `$r${i} = ${tileRow(i)}${colsContiguous ? ' + $j0' : ''}`).join(', ')};`);
  if (!colsContiguous) lines.push(`            const ${Array.from({ length: NR }, (_, j) => `$o${j} = ${offsetOf(shape.cols, cols.at(plus('$j0', j)))}`).join(', ')};`);
  const tileOff = (i: number, j: number) => (colsContiguous ? plus(`$r${i}`, j) : `$r${i} + $o${j}`);
  const sumAt = (i: number, j: number) => `($first ? 0 : ${s.tensor}[${tileOff(i, j)}]!) + ${acc(i, j)}`;
  const partial: string[] = [];
  for (let i = 0; i < MR; i++) for (let j = 0; j < NR; j++) partial.push(`${s.tensor}[${tileOff(i, j)}] = ${sumAt(i, j)};`);
  if (epi.value === '$c') lines.push(...partial.map((x) => `            ${x}`));
  else {
    // the epilogue on the last K block, its indices at this element of the tile
    lines.push(`            if ($last) {`);
    for (let i = 0; i < MR; i++)
      for (let j = 0; j < NR; j++) {
        const vs = new Map<string, Code>([...rows.at(plus('$i0', i)), ...cols.at(plus('$j0', j))]);
        const e = l.expr(s.rhs, vs, new Map([[exprKey(shape.reduction), `(${sumAt(i, j)})`]]));
        lines.push(`              ${s.tensor}[${tileOff(i, j)}] = ${e.value};`);
      }
    lines.push(`            } else {`);
    lines.push(...partial.map((x) => `              ${x}`));
    lines.push(`            }`);
  }
  lines.push(`            continue;`);
  lines.push(`          }`);
  // store the tile: partial sums until the last K block, then the epilogue
  lines.push(`          ${Array.from({ length: MR * NR }, (_, q) => `$t[${q}] = ${acc(Math.floor(q / NR), q % NR)};`).join(' ')}`);
  lines.push(`          const $mi = Math.min(${MR}, $mc - $ir);`);
  lines.push(`          const $nj = Math.min(${NR}, $nc - $jr);`);
  lines.push(`          for (let $ii = 0; $ii < $mi; $ii++) {`);
  lines.push(`            const $i = $ic + $ir + $ii;`);
  lines.push(`            const $row = ${rowOff};`);
  lines.push(`            for (let $jj = 0, $q = $ii * ${NR}; $jj < $nj; $jj++, $q++) {`);
  lines.push(`              const $j = $jc + $jr + $jj;`);
  lines.push(`              const $o = $row + ${colOff};`);
  lines.push(`              const $c = ($first ? 0 : ${s.tensor}[$o]!) + $t[$q]!;`);
  lines.push(`              ${s.tensor}[$o] = $last ? ${epi.value} : $c;`);
  lines.push(`            }`);
  lines.push(`          }`);
  lines.push(`        }`);
  lines.push(`      }`);
  lines.push(`    }`);
  lines.push(`  }`);
  lines.push(`}`);
  return finish();
}
