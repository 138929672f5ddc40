// worthSharing: which statements' kernels are worth sharing out between worker threads? A shared
// kernel costs a barrier, and a worker's share of what the calling thread just wrote (the inputs it
// copied in, a kernel it ran whole) comes from the other core's cache: on these machines, alone in
// a program, a ReLU over 512K floats ran at 0.68× on two threads, a layer norm's variance at 0.55×,
// a matmul 64³ at 0.87×, a row sum of exp over 64 × 256 at 1.39× (bench/FINDINGS.md). But after a
// shared kernel each thread holds its own share of the arrays, and there a ReLU or a max pooling
// over the batch gains from sharing too (the CNN step ran 1.07× on two threads with them whole, 1.6×
// shared). So: a program none of whose kernels pays for threads runs every call on the calling
// thread alone (codegen/threaded.ts); in one where some do, every kernel that is not small is shared.
//
// Worked example, at N = 512, D = 1024:
//   Y[n,d] = relu(X[n,d])               work 1 per element × 524 288, moves 1 048 576: fits
//   s[n]   = sum(d) exp(X[n,d])         work (HOST_CALL + 1) × 524 288, moves 524 800: pays
//   Y[i,j] = sum(k) A[i,k]*B[k,j] (64³) a product, work 2 × 262 144 < MIN_PRODUCT: fits
//   b[i] = sum(n) X[n,i] (N = 32, i < 10) work 320: small (whole on one thread)
// The ReLU alone runs on the calling thread; with the row sum in the same program, both are shared.
// Work counts a store per output element, an arithmetic node 1, a function the host computes (exp,
// log, tanh, …) HOST_CALL, a reduction's accumulation 1 a term — each once per value of the indices
// it depends on (what does not depend on an inner index is hoisted out of its loop).
import { forEachVar } from '../ir/affine.js';
import { children, tensorsRead } from '../ir/exprs.js';
import { assertNever, type Builtin, type Expr, type IndexExpr, type SizeExpr, type Statement } from '../ir/types.js';
import type { CostModel } from './costs.js';

/** the rule's constants (bench/FINDINGS.md, "Which kernels threads share") */
export const SHARING = {
  /** work units a kernel must do to be shared */
  MIN_WORK: 65536,
  /** a contraction (a sum of products, a GEMM): each thread packs its own panels, so more */
  MIN_PRODUCT: 1 << 20,
  /** work units per element read or written: below it a kernel is bound by memory, which two
   * threads on these machines do not move faster (a variance, Σ (x − m)², 3 units: 0.55× on two) */
  MIN_WORK_PER_ELEMENT: 8,
  /** a function the host computes per element, against an add */
  HOST_CALL: 16,
  /** on a page, whose thread takes no part (threads/pool.ts), the least work a call must do for its
   * workers to pay: handing a call to them and hearing back cost 0.4–1.4 ms in Chromium, and each
   * barrier a wake. Below it (the MLP step, 100M units: 4.3 ms on the page's thread, 7.8 ms on two
   * workers; a conv forward+backward, 230M: 9.8 against 10.9 ms) the call runs on the page's
   * thread; above it (matmul 512³, 270M: 10.2 against 8.3 ms) on the workers. */
  PAGE_CALL: 1 << 28,
} as const;

const HOST: ReadonlySet<Builtin> = new Set<Builtin>(['exp', 'log', 'tanh', 'sigmoid', 'softplus', 'elu', 'pow', 'sin', 'cos', 'tan', 'atan', 'atan2', 'asin', 'acos', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh', 'erf', 'log2', 'log10', 'cbrt']);

/** How a statement's kernel weighs for threads at these sizes: it `pays` (enough work, and enough
 * per element it moves), it `fits` (enough work, but bound by memory: worth sharing only where
 * kernels that pay share the program's arrays between the threads' caches), or it is `small`. */
export function weighSharing(s: Statement, shapeOf: (tensor: string) => readonly SizeExpr[], m: CostModel): 'pays' | 'fits' | 'small' {
  const count = (dims: readonly SizeExpr[]) => dims.reduce((n, d) => n * m.extent(d), 1);
  const outputs = s.lhs.reduce((n, b) => n * m.extent(b.extent), 1);
  const work = workOfStatement(s, m);
  if (work < SHARING.MIN_WORK) return 'small';
  const moved = outputs + [...new Set(tensorsRead(s.rhs))].reduce((n, t) => n + count(shapeOf(t)), 0);
  const least = isProduct(s.rhs) ? SHARING.MIN_PRODUCT : SHARING.MIN_WORK;
  return work >= least && work >= SHARING.MIN_WORK_PER_ELEMENT * moved ? 'pays' : 'fits';
}

let everyKernel = false;
/** For tests of the threads: share every kernel with a parallel loop whatever its size (the rule
 * off), so that small, odd sizes exercise the shares. compile() keys its cache on it. */
export function shareEveryKernel(on: boolean): void {
  everyKernel = on;
}
export const sharingEveryKernel = (): boolean => everyKernel;

/** The statements whose kernels threads share: none when no kernel pays (every call then runs on
 * the calling thread alone), else every one that is not small. */
export function chooseShared(statements: readonly Statement[], shapeOf: (tensor: string) => readonly SizeExpr[], m: CostModel): ReadonlySet<Statement> {
  if (everyKernel) return new Set(statements);
  const weights = statements.map((s) => weighSharing(s, shapeOf, m));
  if (!weights.includes('pays')) return new Set();
  return new Set(statements.filter((_, k) => weights[k] !== 'small'));
}

/** Is a call of this much work worth handing to the workers? Always where the calling thread takes
 * part; on a page, from PAGE_CALL units (or with the sizes rule off, for tests). */
export function callWorthWorkers(units: number, onPage: boolean): boolean {
  return !onPage || everyKernel || units >= SHARING.PAGE_CALL;
}

/** The work units of a statement's kernel at these sizes: a store per output element, and each
 * node once per value of the indices it depends on — as the lowering computes it, with what does not
 * depend on an inner index hoisted out of its loop (the row's logsumexp in a softmax gradient dS[n,c]
 * is one per row, not one per element). */
export function workOfStatement(s: Statement, m: CostModel): number {
  const extents = new Map<string, number>();
  for (const b of s.lhs) extents.set(b.name, m.extent(b.extent));
  return s.lhs.reduce((n, b) => n * m.extent(b.extent), 1) + workOf(s.rhs, extents, m).work;
}

/** Work units of e over every value of its free indices, and those indices. */
function workOf(e: Expr, extents: Map<string, number>, m: CostModel): { work: number; free: ReadonlySet<string> } {
  const evaluations = (names: Iterable<string>) => {
    let n = 1;
    for (const v of names) n *= extents.get(v) ?? 1;
    return n;
  };
  // a node's own cost per evaluation, over its children's work and free indices
  const node = (own: number) => {
    const free = new Set<string>();
    let work = 0;
    for (const c of children(e)) {
      const w = workOf(c, extents, m);
      work += w.work;
      for (const v of w.free) free.add(v);
    }
    return { work: work + own * evaluations(free), free };
  };
  // a reduction's accumulation over its indices, once per value of the indices outside it
  const binder = (indices: readonly { name: string; extent: SizeExpr }[], body: Expr, own: (n: number) => number, at: readonly IndexExpr[] = []) => {
    const saved = indices.map((b) => [b.name, extents.get(b.name)] as const);
    for (const b of indices) extents.set(b.name, m.extent(b.extent));
    const w = workOf(body, extents, m);
    const inside = evaluations(new Set([...w.free, ...indices.map((b) => b.name)]));
    for (const [name, was] of saved) (was === undefined ? extents.delete(name) : extents.set(name, was));
    const free = new Set([...w.free].filter((v) => !indices.some((b) => b.name === v)));
    for (const x of at) for (const v of indexNames(x)) free.add(v);
    return { work: w.work + own(inside), free };
  };
  switch (e.kind) {
    case 'num':
    case 'sizeval':
      return { work: 0, free: new Set() };
    case 'index':
      return { work: 0, free: new Set(indexNames(e.expr)) };
    case 'access':
      return { work: 0, free: new Set(e.subs.flatMap(indexNames)) };
    case 'delta':
      return { work: 0, free: new Set([...indexNames(e.a), ...indexNames(e.b)]) };
    case 'add':
    case 'mul':
      return node(Math.max(1, children(e).length - 1));
    case 'div':
    case 'neg':
    case 'compare':
      return node(1);
    case 'pow':
      // x² is one multiplication
      return node(e.exp.kind === 'num' && Number.isInteger(e.exp.value) ? Math.max(1, Math.abs(e.exp.value) - 1) : SHARING.HOST_CALL);
    case 'call':
      return node(HOST.has(e.fn) ? SHARING.HOST_CALL : 1);
    case 'reduce':
      return binder(e.indices, e.body, (n) => n * (e.op === 'logsumexp' ? SHARING.HOST_CALL : 1));
    case 'argmax':
      return binder(e.indices, e.body, (n) => n, e.at);
    case 'matfn': {
      // an LU factorisation: n³ for an n × n matrix, once per value of the indices outside it
      // (n counts the outside values times the size², its two indices)
      const size = m.extent(e.indices[0]!.extent);
      return binder(e.indices, e.body, (n) => n * size, e.at);
    }
    default:
      return assertNever(e);
  }
}

/** The index variables an index expression reads. */
function indexNames(x: IndexExpr): string[] {
  const out: string[] = [];
  forEachVar(x, (v) => out.push(v));
  return out;
}

/** A sum of products of tensors (a GEMM's shape): what lowerMatmul takes. */
function isProduct(e: Expr): boolean {
  if (e.kind === 'add') return e.terms.some(isProduct);
  return e.kind === 'reduce' && e.op === 'sum' && e.body.kind === 'mul' && e.body.factors.filter((f) => f.kind === 'access').length >= 2;
}
