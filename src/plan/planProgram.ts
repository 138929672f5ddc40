// planProgram: the forward statements and the gradients, rewritten so that nothing costs more than
// it must — before lowering, on the math IR. Three rules, each making new intermediates:
//   shared       a reduction inside a statement that occurs more than once (in the forward and in the
//                gradients, or twice in one), and is invariant (below) where one of them stands, is
//                computed once, as an intermediate, where it first occurs (in the forward when it
//                occurs there: the gradients read it then)
//   invariant    a reduction inside a reduction that does not depend on the indices of the loops
//                around that one is computed once, not once per pass of those loops (the kernels
//                compute a reduction once per element of the loops outside its enclosing reduction)
//   order        a sum of a product of three or more tensors is contracted two at a time
//                (orderContractions.ts)
// The intermediates of the forward run in forward(); those first asked for by a gradient
// (temporaries) run in backward(), before the gradient that reads them.
//
// Worked example, ‖AXB − C‖² in one statement (E = sum(i,j) (A[i,k]*X[k,m]*B[m,j] - C[i,j])^2):
// every gradient holds the residual's sum over k and m again, so it is shared. In the forward it is
// ordered — AX[i,m] = sum(k) A[i,k]*X[k,m] — and made an intermediate, s[i,j] = sum(m) AX[i,m]*B[m,j];
// E = sum(i,j) (s[i,j] - C[i,j])^2. dX[k,m] = sum(i,j) 2*(s[i,j] - C[i,j])*A[i,k]*B[m,j] then reads s,
// and is ordered in turn: T[j,k] = sum(i) 2*(s[i,j] - C[i,j])*A[i,k];  dX[k,m] = sum(j) T[j,k]*B[m,j].
// Every step is a product of two: O(N³) where each gradient was O(N⁴).
import { children, div, freeIndices, mapChildren, reduce } from '../ir/exprs.js';
import { printStatement } from '../ir/print.js';
import type { Bound, Expr, Program, SizeExpr, Statement, TensorInfo } from '../ir/types.js';
import type { GradientStatement } from '../diff/differentiate.js';
import { costModel, nestCost, type CostModel } from './costs.js';
import { Registry, valueKey, type Intermediate, type Phase } from './intermediates.js';
import { orderContractions } from './orderContractions.js';
import { isMatrixProduct, outerSums, productStem } from './separateProducts.js';

export interface PlanOptions {
  /** size values: the program's defaults, and at compile time the caller's sizes */
  readonly sizes?: ReadonlyMap<string, number>;
  /** tell of each choice (--steps) */
  readonly steps?: boolean;
}

export interface Plan {
  /** the forward program: its statements rewritten, the forward's intermediates among them, and
   *  every new tensor (also the temporaries) among its tensors */
  readonly program: Program;
  /** the gradient statements rewritten, each temporary before the first gradient that reads it */
  readonly gradients: readonly GradientStatement[];
  /** the tensors made, in the order they are computed */
  readonly made: readonly Intermediate[];
  readonly steps: readonly string[];
}

type Reduce = Extract<Expr, { kind: 'reduce' | 'argmax' }>;

/** A reduction's short stem for the name of its intermediate. */
const STEMS: Record<Extract<Expr, { kind: 'reduce' }>['op'], string> = { sum: 's', mean: 'mean', max: 'mx', min: 'mn', logsumexp: 'lse', prod: 'prod' };

/** A reduction of a product of one factor only is not worth a name when it is this cheap. */
const WORTH = 4;
/** A matrix product smaller than this (in multiply-adds) stays in its statement's loop nest. */
const PRODUCT_WORTH = 4096;

const allIndicesOf = (r: Extract<Expr, { kind: 'reduce' }>) => [...freeIndices(r), ...r.indices.map((b) => b.name)];

interface Walk {
  readonly env: ReadonlyMap<string, SizeExpr>;
  /** the statement's left-side indices, in order */
  readonly lhs: readonly string[];
  /** the reductions around this node, outermost first */
  readonly around: readonly Reduce[];
}

export function planProgram(p: Program, grads: readonly GradientStatement[], opts: PlanOptions = {}): Plan {
  const defaults = new Map<string, number>();
  for (const s of p.sizes) if (s.default !== undefined) defaults.set(s.name, s.default);
  const model: CostModel = costModel(opts.sizes ?? defaults);
  const steps: string[] = [];
  const names = new Set<string>([...p.tensors.map((t) => t.name), ...p.tensors.map((t) => `d${t.name}`), ...p.sizes.map((s) => s.name)]);
  for (const s of [...p.statements, ...grads.map((g) => g.statement)]) for (const b of s.lhs) names.add(b.name);
  const registry = new Registry(names, p.tensors.map((t) => t.name));
  const prefer = new Set<string>([...p.tensors.filter((t) => t.role === 'output').map((t) => `d${t.name}`), ...grads.map((g) => g.statement.tensor)]);

  // reductions inside statements that occur more than once, and where one of them is made anyway
  // (invariant there): made at the first, so that the others read it
  const seen = new Map<string, { n: number; invariant: boolean }>();
  const all = [...p.statements, ...grads.map((g) => g.statement)];
  for (const s of all)
    walkNested(s, (r, w) => {
      const key = valueKey(r, extentIn(w.env)).key;
      const had = seen.get(key) ?? { n: 0, invariant: false };
      seen.set(key, { n: had.n + 1, invariant: had.invariant || invariant(r, w, model) });
    });
  const shared = new Set([...seen].filter(([, x]) => x.n > 1 && x.invariant).map(([k]) => k));

  const plan = (s: Statement, phase: Phase): Statement => {
    // two or more sums side by side: each matrix product among them gets a kernel of its own
    const sums = outerSums(s);
    const apart = new Set<Expr>(sums.length > 1 ? sums : []);
    const log = opts.steps ? (line: string) => steps.push(`  ${line}`) : undefined;
    const visit = (x: Expr, w: Walk, root: boolean): Expr => {
      // det/logdet/inv are computed whole by an LU factorisation (once per kernel when no index
      // around them changes them): nothing inside one is planned
      if (x.kind === 'matfn') return x;
      if (x.kind !== 'reduce' && x.kind !== 'argmax') return mapChildren(x, (c) => visit(c, w, false));
      const extentOf = extentIn(w.env);
      const { key, free } = valueKey(x, extentOf);
      const had = root ? undefined : registry.lookup(key, free, log);
      if (had) return had;
      const env = new Map(w.env);
      for (const b of x.indices) env.set(b.name, b.extent);
      const inner: Walk = { env, lhs: w.lhs, around: [...w.around, x] };
      const body = visit(x.body, inner, false);
      let y: Expr = body === x.body ? x : ({ ...x, body } as Expr);
      // sum(e) Q*K/sqrt(E) divides once, after the sum: (sum(e) Q*K)/sqrt(E), a product and an epilogue
      const quotient = y.kind === 'reduce' && y.op === 'sum' ? outerDenominator(y) : undefined;
      if (quotient) y = quotient.sum;
      if (y.kind === 'reduce') y = orderContractions(y, extentIn(env), { registry, model, phase, prefer, ...(log ? { log } : {}) });
      if (quotient) y = div(y, quotient.den);
      if (root || x.kind === 'argmax') return y;
      if (w.around.length === 0 && y.kind === 'reduce' && (apart.has(x) || (seen.get(key)?.n ?? 0) > 1) && isMatrixProduct(y) && nestCost(allIndicesOf(y), extentIn(env), model) >= PRODUCT_WORTH)
        return registry.read(y, extentOf, productStem(y), phase, 'a matrix product of its own (a GEMM), not a loop nest shared with other sums', log, { key, free });
      const why = shared.has(key) ? 'computed once (it occurs more than once)' : invariant(x, w, model) ? 'computed once (the loops around it do not change it)' : undefined;
      if (!why) return y;
      return registry.read(y, extentOf, STEMS[x.op], phase, why, log, { key, free });
    };
    const rhs = visit(s.rhs, { env: new Map(s.lhs.map((b) => [b.name, b.extent] as const)), lhs: s.lhs.map((b) => b.name), around: [] }, true);
    return rhs === s.rhs ? s : { ...s, rhs };
  };

  const forward: Statement[] = [];
  let made = 0;
  const flush = (out: Statement[]) => {
    for (; made < registry.made.length; made++) out.push(registry.made[made]!.statement);
  };
  for (const s of p.statements) {
    if (opts.steps) steps.push(`from ${printStatement(s)}`);
    const planned = plan(s, 'forward');
    flush(forward);
    forward.push(planned);
    if (opts.steps && planned !== s) steps.push(`  gives ${printStatement(planned)}`);
  }
  const gradients: GradientStatement[] = [];
  for (const g of grads) {
    if (opts.steps) steps.push(`from ${printStatement(g.statement)}`);
    const statement = plan(g.statement, 'backward');
    const temps: Statement[] = [];
    flush(temps);
    for (const t of temps) gradients.push({ of: t.tensor, statement: t, steps: [], temporary: true });
    gradients.push(statement === g.statement ? g : { ...g, statement });
    if (opts.steps && statement !== g.statement) steps.push(`  gives ${printStatement(statement)}`);
  }
  if (opts.steps && registry.made.length === 0) steps.length = 0;
  const tensors: TensorInfo[] = [...p.tensors, ...registry.made.map((m) => m.info)];
  return { program: { ...p, statements: forward, tensors }, gradients, made: registry.made, steps };
}

const extentIn = (env: ReadonlyMap<string, SizeExpr>) => (v: string): SizeExpr => {
  const e = env.get(v);
  if (!e) throw new Error(`internal: the planner knows no range for ${v}`);
  return e;
};

/** Every reduction nested inside a statement's right side (not the right side itself), with the
 *  ranges of the indices around it. */
function walkNested(s: Statement, f: (r: Reduce, w: Walk) => void): void {
  const go = (x: Expr, w: Walk, root: boolean) => {
    if (x.kind === 'matfn') return;
    if (x.kind === 'reduce' || x.kind === 'argmax') {
      if (!root && x.kind === 'reduce') f(x, w);
      const env = new Map(w.env);
      for (const b of x.indices) env.set(b.name, b.extent);
      go(x.body, { env, lhs: w.lhs, around: [...w.around, x] }, false);
      return;
    }
    for (const c of children(x)) go(c, w, false);
  };
  go(s.rhs, { env: new Map(s.lhs.map((b) => [b.name, b.extent] as const)), lhs: s.lhs.map((b) => b.name), around: [] }, true);
}

/**
 * Would the kernels compute this reduction more often than it has values? They compute one
 * directly in the statement once per element of the left side's loops down to the last it depends
 * on, and one inside a reduction once per pass of the loops outside that reduction: whatever it
 * does not depend on there multiplies its cost.
 */
function invariant(r: Reduce, w: Walk, model: CostModel): boolean {
  const free = new Set(freeIndices(r));
  const extentOf = extentIn(w.env);
  let outside: string[];
  if (w.around.length === 0) {
    const last = Math.max(-1, ...w.lhs.map((v, k) => (free.has(v) ? k : -1)));
    outside = w.lhs.slice(0, last + 1);
  } else outside = [...w.lhs, ...w.around.slice(0, -1).flatMap((a) => a.indices.map((b) => b.name))];
  const repeats = nestCost(outside.filter((v) => !free.has(v)), extentOf, model);
  const work = nestCost(r.indices.map((b: Bound) => b.name), (v) => r.indices.find((b) => b.name === v)!.extent, model);
  return repeats >= WORTH && work >= WORTH;
}

/** sum(I) a/d with d free of I (and of a sign around it) as (sum(I) a) and d. */
function outerDenominator(r: Extract<Expr, { kind: 'reduce' }>): { sum: Expr; den: Expr } | undefined {
  const b = r.body;
  if (b.kind !== 'div') return undefined;
  const summed = new Set(r.indices.map((x) => x.name));
  if (freeIndices(b.den).some((v) => summed.has(v))) return undefined;
  return { sum: reduce('sum', r.indices, b.num), den: b.den };
}
