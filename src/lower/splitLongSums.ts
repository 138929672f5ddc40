// splitLongSums: a matrix product with few outputs and a long contraction (a convolution's filter
// gradient: 72 values, each a sum over 25 088 products) becomes G partial products over G slices of
// its outermost summed index, and a sum of the G partials. Worker threads then share out the slices
// (opt/splitParallelLoop.ts), where they would otherwise share out the few rows of the product and
// each pack the whole of the other operand. It runs at compile time only (it needs the sizes), with
// one thread as with many, so that every thread count computes the same sums in the same order.
//
// Worked example, the first conv's filter gradient of the MNIST CNN at batch N = 32:
//   dK1[f,c,i,j] = sum(n,u,v) dZ1[n,f,u,v]*X[n,c,u+i-1,v+j-1]             M·N = 72, K = 25 088
// becomes (G = 8 slices of n, B = 4 images each)
//   dK1parts[g,f,c,i,j] = sum(m:4,u,v) dZ1[g*4+m,f,u,v]*X[g*4+m,c,u+i-1,v+j-1]   a batch of 8 GEMMs
//   dK1[f,c,i,j] = sum(g:8) dK1parts[g,f,c,i,j]
// Rounding differs from the one long sum (each partial is summed, then the partials), the same on
// any number of threads.
import { idxAdd, idxAsVar, idxScale, idxVar, idxVars } from '../ir/affine.js';
import { access, allIndexNames, mapChildren, reduce, replaceExpr, substituteIndex } from '../ir/exprs.js';
import { polyConst, sizeConst, sizeTryEval } from '../ir/sizes.js';
import type { Bound, Expr, Program, Statement, TensorInfo } from '../ir/types.js';
import type { GradientStatement } from '../diff/differentiate.js';
import { matmulShape } from './matmulShape.js';

/** Split a product whose contraction is at least this many times its number of outputs… */
const LONG = 4;
/** …into at most this many slices, each a contraction at least this long. */
const MAX_SLICES = 8;
const MIN_SLICE = 2048;

export interface SplitSums {
  readonly program: Program;
  readonly gradients: readonly GradientStatement[];
  /** the partial products the forward computes (scratch, as the planner's forward intermediates) */
  readonly scratch: readonly string[];
}

/** The planned program and gradients with each long, narrow matrix product computed as partial
 *  products (the forward's a new intermediate, a gradient's a temporary) and their sum. */
export function splitLongSums(p: Program, grads: readonly GradientStatement[], sizes: ReadonlyMap<string, number>): SplitSums {
  const taken = new Set<string>([...p.tensors.map((t) => t.name), ...p.sizes.map((z) => z.name)]);
  const made: TensorInfo[] = [];
  const scratch: string[] = [];
  const split = (s: Statement): [Statement, Statement] | undefined => {
    const found = findSplit(s, sizes, taken);
    if (!found) return undefined;
    made.push(found[1]);
    return [found[0], found[2]];
  };
  const statements = p.statements.flatMap((s) => {
    const two = split(s);
    if (two) scratch.push(two[0].tensor);
    return two ?? [s];
  });
  const gradients = grads.flatMap((g): GradientStatement[] => {
    const two = g.scatters ? undefined : split(g.statement);
    return two ? [{ of: two[0].tensor, statement: two[0], steps: [], temporary: true }, { ...g, statement: two[1] }] : [g];
  });
  if (made.length === 0) return { program: p, gradients: grads, scratch };
  return { program: { ...p, statements, tensors: [...p.tensors, ...made] }, gradients, scratch };
}

/** The partial products' statement and tensor, and the statement summing them; undefined when the
 *  statement is no long, narrow product or its summed indices cannot be sliced evenly. */
function findSplit(s: Statement, sizes: ReadonlyMap<string, number>, taken: Set<string>): [Statement, TensorInfo, Statement] | undefined {
  const shape = matmulShape(s);
  if (!shape || shape.batch.length > 0) return undefined;
  const count = (bs: readonly Bound[]) => bs.reduce<number | undefined>((n, b) => (n === undefined ? undefined : mulOrUndefined(n, sizeTryEval(b.extent, sizes))), 1);
  const outputs = count([...shape.rows, ...shape.cols]);
  const contraction = count(shape.ks);
  if (outputs === undefined || contraction === undefined || contraction < 2 * MIN_SLICE || contraction < LONG * outputs) return undefined;
  const r = shape.reduction;
  // the summed index to slice: the first whose every read is a whole subscript, with a divisor
  const plain = plainSubscripts(r.body);
  const most = Math.min(MAX_SLICES, Math.floor(contraction / MIN_SLICE));
  const at = r.indices.findIndex((b) => plain.has(b.name) && slicesOf(sizeTryEval(b.extent, sizes), most) > 1);
  if (at < 0) return undefined;
  const sliced = r.indices[at]!;
  const extent = sizeTryEval(sliced.extent, sizes)!;
  const slices = slicesOf(extent, most);
  const width = extent / slices;
  const used = new Set([...allIndexNames(s.rhs), ...s.lhs.map((b) => b.name)]);
  const g = fresh('g', used);
  const m = fresh('m', used);
  const name = fresh(`${s.tensor}parts`, taken, (n) => !taken.has(`d${n}`) && !(n.startsWith('d') && taken.has(n.slice(1))));
  // n → g·width + m: slice g holds the indices [g·width, (g+1)·width)
  const body = substituteIndex(r.body, sliced.name, idxAdd(idxScale(idxVar(g), polyConst(width)), idxVar(m)));
  const indices = r.indices.map((b, k) => (k === at ? { name: m, extent: sizeConst(width) } : b));
  const lhsOf = s.lhs.filter((b) => [...shape.rows, ...shape.cols].some((x) => x.name === b.name));
  const parts: Statement = { tensor: name, lhs: [{ name: g, extent: sizeConst(slices) }, ...lhsOf], rhs: reduce('sum', indices, body), line: s.line };
  // the lowering must still see a GEMM (a batch of them over g), or the split would only cost
  const partsShape = matmulShape(parts);
  if (!partsShape || partsShape.batch.length !== 1 || partsShape.batch[0]!.name !== g) return undefined;
  taken.add(name);
  const info: TensorInfo = { name, shape: parts.lhs.map((b) => b.extent), role: 'intermediate', declared: false };
  const total = reduce('sum', [{ name: g, extent: sizeConst(slices) }], access(name, parts.lhs.map((b) => idxVar(b.name))));
  const rhs = replaceExpr(s.rhs, r, total);
  return [parts, info, { ...s, rhs }];
}

/** The most slices, up to `most`, that divide `extent` evenly (1: none). */
function slicesOf(extent: number | undefined, most: number): number {
  if (extent === undefined) return 1;
  for (let k = most; k > 1; k--) if (extent % k === 0) return k;
  return 1;
}

/** The indices every read of which in `e` is a whole subscript (X[n, …], not X[2*n+1, …]). */
function plainSubscripts(e: Expr): Set<string> {
  const plain = new Set<string>();
  const mixed = new Set<string>();
  const visit = (x: Expr): Expr => {
    if (x.kind === 'access')
      for (const sub of x.subs) {
        const whole = idxAsVar(sub);
        if (whole !== undefined) plain.add(whole);
        else for (const t of sub.terms) if (t.atom.kind === 'var') mixed.add(t.atom.name);
      }
    if (x.kind === 'index') for (const v of idxVars(x.expr)) mixed.add(v);
    return mapChildren(x, visit);
  };
  visit(e);
  for (const v of mixed) plain.delete(v);
  return plain;
}

function fresh(stem: string, used: ReadonlySet<string>, ok: (n: string) => boolean = () => true): string {
  for (let k = 1; ; k++) {
    const n = k === 1 ? stem : `${stem}${k}`;
    if (!used.has(n) && ok(n)) return n;
  }
}

const mulOrUndefined = (a: number, b: number | undefined) => (b === undefined ? undefined : a * b);
