// lowerMatmul: a matmul-shaped statement → packed operands and an unrolled register micro-kernel.
//
// Worked example, the AffineReLU backward dX[n,d] = sum(f) (Y[n,f] > 0)*W[f,d]*dY[n,f]:
// rows n, columns d, contraction f. The factors over (n,f) form the A operand, (Y > 0)·dY — the
// ReLU mask is applied while A is packed, so no masked temporary exists; W over (f,d) is B.
// Blocks of KC×NC of B and MC×KC of A are packed into panels NR columns (MR rows) wide, and an
// MR×NR tile of C lives in MR·NR local accumulators while the kernel walks the KC panel:
//   c00 += a0*b0; c01 += a0*b1; …      (4×4 for float64, 4×8 for float32, as measured best here)
// An elementwise epilogue (bias + ReLU in the affine forward) is applied when the last K block
// stores the tile, so it is fused too.
import { exprKey, freeIndices } from '../ir/exprs.js';
import type { Bound, Expr, Statement } from '../ir/types.js';
import type { Code, LoopNode, LoweredKernel } from './loops.js';
import { Lowerer, type LowerContext, type LowerOptions } from './lowerToLoops.js';

export const BLOCKING = {
  float64: { MR: 4, NR: 4, MC: 64, KC: 256, NC: 512 },
  float32: { MR: 4, NR: 8, MC: 64, KC: 256, NC: 512 },
} as const;

interface MatmulShape {
  readonly rows: Bound;
  readonly cols: Bound;
  readonly k: Bound;
  readonly reduction: Extract<Expr, { kind: 'reduce' }>;
  readonly left: Expr[];
  readonly right: Expr[];
}

const hasReduction = (e: Expr): boolean => {
  if (e.kind === 'reduce' || e.kind === 'argmax') return true;
  const kids: Expr[] = [];
  switch (e.kind) {
    case 'add':
      kids.push(...e.terms);
      break;
    case 'mul':
      kids.push(...e.factors);
      break;
    case 'div':
      kids.push(e.num, e.den);
      break;
    case 'pow':
      kids.push(e.base, e.exp);
      break;
    case 'neg':
      kids.push(e.arg);
      break;
    case 'compare':
      kids.push(e.a, e.b);
      break;
    case 'call':
      kids.push(...e.args);
      break;
    default:
      break;
  }
  return kids.some(hasReduction);
};

/** Y[a,b] = epilogue(Σ_k left(a,k)·right(k,b), a, b)? */
export function matmulShape(s: Statement): MatmulShape | undefined {
  if (s.lhs.length !== 2) return undefined;
  const [rows, cols] = s.lhs as [Bound, Bound];
  const found: Extract<Expr, { kind: 'reduce' }>[] = [];
  const walk = (e: Expr) => {
    if (e.kind === 'reduce') {
      found.push(e);
      return;
    }
    if (e.kind === 'argmax') {
      found.push(e as never, e as never);
      return;
    }
    for (const c of kidsOf(e)) walk(c);
  };
  walk(s.rhs);
  if (found.length !== 1) return undefined;
  const r = found[0]!;
  if (r.op !== 'sum' || r.indices.length !== 1) return undefined;
  const k = r.indices[0]!;
  const factors = r.body.kind === 'mul' ? r.body.factors : [r.body];
  const left: Expr[] = [];
  const right: Expr[] = [];
  for (const f of factors) {
    if (hasReduction(f)) return undefined;
    const free = freeIndices(f);
    if (free.every((v) => v === rows.name || v === k.name)) left.push(f);
    else if (free.every((v) => v === cols.name || v === k.name)) right.push(f);
    else return undefined;
  }
  if (!left.some((f) => freeIndices(f).includes(rows.name)) || !right.some((f) => freeIndices(f).includes(cols.name))) return undefined;
  return { rows, cols, k, reduction: r, left, right };
}

function kidsOf(e: Expr): Expr[] {
  switch (e.kind) {
    case 'add':
      return [...e.terms];
    case 'mul':
      return [...e.factors];
    case 'div':
      return [e.num, e.den];
    case 'pow':
      return [e.base, e.exp];
    case 'neg':
      return [e.arg];
    case 'compare':
      return [e.a, e.b];
    case 'call':
      return [...e.args];
    case 'reduce':
    case 'argmax':
      return [e.body];
    default:
      return [];
  }
}

const product = (fs: readonly Expr[]): Expr => (fs.length === 1 ? fs[0]! : { kind: 'mul', factors: fs });

export function lowerMatmul(s: Statement, ctx: LowerContext, opts: LowerOptions): (Omit<LoweredKernel, 'name' | 'formula'> & { fns: Set<string>; dataType: string }) | undefined {
  const shape = matmulShape(s);
  if (!shape) return undefined;
  const { MR, NR, MC, KC, NC } = BLOCKING[opts.dtype];
  const l = new Lowerer(ctx, opts);
  [shape.rows, shape.cols, shape.k].forEach((b) => l.extentOf.set(b.name, b.extent));
  l.useTensor(s.tensor, 'write');
  const M = l.extent(shape.rows.extent);
  const N = l.extent(shape.cols.extent);
  const K = l.extent(shape.k.extent);
  const arr = l.dataArrayType();
  const v = (a: string, b: string, c: string) =>
    new Map([
      [shape.rows.name, a],
      [shape.cols.name, b],
      [shape.k.name, c],
    ]);
  const none = new Map<string, Code>();
  // operand element code: A(i, p) and B(p, j)
  const aCode = l.expr(product(shape.left), v('$i', '$j', '$k'), none);
  const bCode = l.expr(product(shape.right), v('$i', '$j', '$k'), none);
  const epi = l.expr(s.rhs, v('$i', '$j', '$k'), new Map([[exprKey(shape.reduction), '$c']]));
  if (aCode.nodes.length || bCode.nodes.length || epi.nodes.length) return undefined;
  const lines: string[] = [];
  lines.push(`const $Ap = new ${arr}(${MC * KC});`);
  lines.push(`const $Bp = new ${arr}(${KC} * Math.ceil(Math.min(${NC}, ${N}) / ${NR}) * ${NR});`);
  lines.push(`for (let $jc = 0; $jc < ${N}; $jc += ${NC}) {`);
  lines.push(`  const $nc = Math.min(${NC}, ${N} - $jc);`);
  lines.push(`  for (let $pc = 0; $pc < ${K}; $pc += ${KC}) {`);
  lines.push(`    const $kc = Math.min(${KC}, ${K} - $pc);`);
  lines.push(`    const $first = $pc === 0;`);
  lines.push(`    const $last = $pc + $kc >= ${K};`);
  lines.push(`    // pack B[$pc:$pc+$kc, $jc:$jc+$nc] into panels ${NR} columns wide (zeros past the edge)`);
  lines.push(`    let $q = 0;`);
  lines.push(`    for (let $jp = 0; $jp < $nc; $jp += ${NR}) {`);
  lines.push(`      for (let $p = 0; $p < $kc; $p++) {`);
  lines.push(`        const $k = $pc + $p;`);
  lines.push(`        for (let $jj = 0; $jj < ${NR}; $jj++) {`);
  lines.push(`          const $j = $jc + $jp + $jj;`);
  lines.push(`          $Bp[$q++] = $jp + $jj < $nc ? ${bCode.value} : 0;`);
  lines.push(`        }`);
  lines.push(`      }`);
  lines.push(`    }`);
  lines.push(`    for (let $ic = 0; $ic < ${M}; $ic += ${MC}) {`);
  lines.push(`      const $mc = Math.min(${MC}, ${M} - $ic);`);
  lines.push(`      // pack A[$ic:$ic+$mc, $pc:$pc+$kc] into panels ${MR} rows tall`);
  lines.push(`      let $r = 0;`);
  lines.push(`      for (let $ip = 0; $ip < $mc; $ip += ${MR}) {`);
  lines.push(`        for (let $p = 0; $p < $kc; $p++) {`);
  lines.push(`          const $k = $pc + $p;`);
  lines.push(`          for (let $ii = 0; $ii < ${MR}; $ii++) {`);
  lines.push(`            const $i = $ic + $ip + $ii;`);
  lines.push(`            $Ap[$r++] = $ip + $ii < $mc ? ${aCode.value} : 0;`);
  lines.push(`          }`);
  lines.push(`        }`);
  lines.push(`      }`);
  lines.push(`      for (let $jr = 0; $jr < $nc; $jr += ${NR}) {`);
  lines.push(`        for (let $ir = 0; $ir < $mc; $ir += ${MR}) {`);
  const acc = (i: number, j: number) => `$c${i}${j}`;
  const accs: string[] = [];
  for (let i = 0; i < MR; i++) for (let j = 0; j < NR; j++) accs.push(`${acc(i, j)} = 0`);
  lines.push(`          let ${accs.join(', ')};`);
  lines.push(`          let $pa = $ir * $kc;`);
  lines.push(`          let $pb = $jr * $kc;`);
  lines.push(`          for (let $p = 0; $p < $kc; $p++, $pa += ${MR}, $pb += ${NR}) {`);
  lines.push(`            const ${Array.from({ length: MR }, (_, i) => `$a${i} = $Ap[$pa${i ? ` + ${i}` : ''}]!`).join(', ')};`);
  lines.push(`            const ${Array.from({ length: NR }, (_, j) => `$b${j} = $Bp[$pb${j ? ` + ${j}` : ''}]!`).join(', ')};`);
  for (let i = 0; i < MR; i++) lines.push(`            ${Array.from({ length: NR }, (_, j) => `${acc(i, j)} += $a${i} * $b${j};`).join(' ')}`);
  lines.push(`          }`);
  // store the tile: partial sums until the last K block, then the epilogue
  lines.push(`          const $i0 = $ic + $ir;`);
  lines.push(`          const $j0 = $jc + $jr;`);
  for (let i = 0; i < MR; i++) {
    lines.push(`          if ($ir + ${i} < $mc) {`);
    lines.push(`            const $i = $i0 + ${i};`);
    lines.push(`            const $row = $i * ${N};`);
    for (let j = 0; j < NR; j++) {
      lines.push(`            if ($jr + ${j} < $nc) {`);
      lines.push(`              const $j = $j0 + ${j};`);
      lines.push(`              const $c = ($first ? 0 : ${s.tensor}[$row + $j]!) + ${acc(i, j)};`);
      lines.push(`              ${s.tensor}[$row + $j] = $last ? ${epi.value} : $c;`);
      lines.push(`            }`);
    }
    lines.push(`          }`);
  }
  lines.push(`        }`);
  lines.push(`      }`);
  lines.push(`    }`);
  lines.push(`  }`);
  lines.push(`}`);
  // an empty contraction (K = 0) still applies the epilogue to 0
  lines.push(`if (${K} === 0) {`);
  lines.push(`  for (let $i = 0; $i < ${M}; $i++) for (let $j = 0; $j < ${N}; $j++) {`);
  lines.push(`    const $c = 0;`);
  lines.push(`    ${s.tensor}[$i * ${N} + $j] = ${epi.value};`);
  lines.push(`  }`);
  lines.push(`}`);
  const body: LoopNode[] = [
    { k: 'comment', text: `matmul: rows ${shape.rows.name}, columns ${shape.cols.name}, contraction over ${shape.k.name}; packed ${MR}×${NR} register tiles` },
    { k: 'raw', lines },
  ];
  return {
    tensors: [...l.tensors.values()],
    sizes: [...l.sizes].sort(),
    body: [...l.prologue(), ...body],
    fns: l.fns,
    dataType: arr,
  };
}
