// differentiate: reverse mode through a whole program. For every tensor X that a statement
// Y[l] = rhs reads, the derivative of each access X[e(l,s)] is a product of Kronecker deltas:
//   dX[p] += Σ_{l,s} (∂rhs/∂X[e]) · dY[l] · Π_k δ(e_k, p_k)
// Contributions from every statement (and every access) that reads X are added, so fan-out
// accumulates; intermediates get their own gradient statement, emitted before the gradients that
// read them. Delta elimination (eliminateDeltas.ts) then turns each term into gather form.
//
// Worked example: Y[i,j] = sum(k) A[i,k]*X[k,j] + B[i,j] w.r.t. X: the access X[k,j] contributes
//   Σ_{i,j,k} A[i,k]·dY[i,j]·δ(k,k')·δ(j,j')  →  dX[k,j] = sum(i) A[i,k]*dY[i,j]   (= Aᵀ·dY)
import { idxAsVar, idxKey, idxVar, printIndex } from '../ir/affine.js';
import { count, DeltagradError } from '../ir/errors.js';
import { DEFAULT_LIMITS } from '../ir/limits.js';
import {
  access,
  add,
  allIndexNames,
  div,
  exprKey,
  freeIndices,
  mul,
  neg,
  ONE,
  pow,
  renameIndices,
  replaceExpr,
  sub,
  tensorsRead,
  call,
  compare,
  num,
  mapChildren,
  children,
  reduce,
} from '../ir/exprs.js';
import { printExpr, printStatement } from '../ir/print.js';
import { polyConstValue, sizeNames, sizeTryEval } from '../ir/sizes.js';
import { assertNever, type Bound, type Expr, type ExprKind, type IndexExpr, type Program, type SizeExpr, type Statement, type TensorInfo } from '../ir/types.js';
import { eliminateDeltas, type Term } from './eliminateDeltas.js';
import { renameScatter, scatterDataGuards, type Scatter } from './scatterDataGuards.js';
import { POW_RULES, RULES } from './rules.js';
import { hoistFactors } from './hoistFactors.js';
import { factorCommon } from './factorCommon.js';
import { forwardValues, reuseForward } from './reuseForward.js';
import { simplify } from './simplify.js';

/** ∂e/∂X[subs] = Σ_{sums} factor, for one access of the target. */
interface Contribution {
  readonly sums: readonly Bound[];
  readonly factor: Expr;
  readonly subs: Extract<Expr, { kind: 'access' }>['subs'];
}

/** Fresh names that clash with nothing in the program or the gradients. */
export class NameSupply {
  private readonly used: Set<string>;
  constructor(used: Iterable<string>) {
    this.used = new Set(used);
  }
  reserve(n: string) {
    this.used.add(n);
  }
  has(n: string) {
    return this.used.has(n);
  }
  /** where the search for a stem's next free number starts: names are only ever added */
  private readonly next = new Map<string, number>();
  fresh(base: string): string {
    const stem = base.replace(/\d+$/, '') || 'i';
    let k = this.next.get(stem) ?? 2;
    while (this.used.has(`${stem}${k}`)) k++;
    this.next.set(stem, k + 1);
    const n = `${stem}${k}`;
    this.used.add(n);
    return n;
  }
}

interface DiffContext {
  readonly target: string;
  readonly names: NameSupply;
}

type Rule<K extends ExprKind> = (e: Extract<Expr, { kind: K }>, ctx: DiffContext) => Contribution[];
const none = (): Contribution[] => [];
/** Multiply every contribution by a factor (f(c) = partial·c). Contributions of the same access under
 *  the same sums are added first, Σ_s f·a·δ + Σ_s f·b·δ = Σ_s f·(a + b)·δ, so the factor is written
 *  once for all of them: through n nested quotients 1/(a + 1/(a + …)) the chain rule then grows as
 *  Horner's rule, O(n²), instead of one copy of every outer factor per access below it, O(n³). */
const scaleAll = (cs: Contribution[], f: (x: Expr) => Expr): Contribution[] => merge(cs).map((c) => ({ ...c, factor: f(c.factor) }));

function merge(cs: Contribution[]): Contribution[] {
  if (cs.length < 2) return cs;
  const byKey = new Map<string, Contribution>();
  for (const c of cs) {
    const key = `${c.subs.map(idxKey).join(',')}|${c.sums.map((b) => b.name).join(',')}`;
    const prev = byKey.get(key);
    byKey.set(key, prev ? { ...prev, factor: add([prev.factor, c.factor]) } : c);
  }
  return byKey.size === cs.length ? cs : [...byKey.values()];
}

/** Alpha-rename a binder so a copy of it can sit where its old names are free. */
function freshBinder<E extends Extract<Expr, { kind: 'reduce' | 'argmax' | 'matfn' }>>(e: E, names: NameSupply): E {
  const map = new Map(e.indices.map((b) => [b.name, names.fresh(b.name)] as const));
  return renameIndices(e, map) as E;
}

const boundCount = (indices: readonly Bound[]): Expr =>
  mul(
    indices.map((b) => {
      const v = b.extent.kind === 'poly' ? polyConstValue(b.extent.poly) : undefined;
      return v !== undefined ? num(v) : ({ kind: 'sizeval', size: b.extent } as Expr);
    }),
  );

/** Operand lists of sums and products with more operands than this are indexed by the tensors they read. */
const WIDE = 16;
const OPERANDS_READING = new WeakMap<readonly Expr[], Map<string, number[]>>();

/** The positions of the operands that read `target`: in a sum of 20 000 reads of 20 000 inputs, the
 *  gradient of each input visits its own term, not all 20 000 (which made the whole derive quadratic). */
function reading(operands: readonly Expr[], target: string): readonly number[] {
  if (operands.length <= WIDE) return operands.map((_, i) => i);
  let index = OPERANDS_READING.get(operands);
  if (!index) {
    index = new Map();
    for (let i = 0; i < operands.length; i++)
      for (const t of tensorsRead(operands[i]!)) {
        const at = index.get(t);
        if (at) at.push(i);
        else index.set(t, [i]);
      }
    OPERANDS_READING.set(operands, index);
  }
  return index.get(target) ?? [];
}

/** Derivative rules by node kind; the type checker demands one for every kind. */
const DIFF: { [K in ExprKind]: Rule<K> } = {
  num: none,
  sizeval: none,
  index: none,
  compare: none, // piecewise constant: derivative 0 almost everywhere
  argmax: none, // an indicator: piecewise constant
  delta: none,
  access: (e, ctx) => (e.tensor === ctx.target ? [{ sums: [], factor: ONE, subs: e.subs }] : []),
  add: (e, ctx) => reading(e.terms, ctx.target).flatMap((i) => contributions(e.terms[i]!, ctx)),
  // a sign costs nothing to copy: the accesses below stay apart
  neg: (e, ctx) => contributions(e.arg, ctx).map((c) => ({ ...c, factor: neg(c.factor) })),
  mul: (e, ctx) =>
    reading(e.factors, ctx.target).flatMap((i) =>
      scaleAll(contributions(e.factors[i]!, ctx), (c) => mul([...e.factors.slice(0, i), c, ...e.factors.slice(i + 1)])),
    ),
  div: (e, ctx) => [
    ...scaleAll(contributions(e.num, ctx), (c) => div(c, e.den)),
    // ∂(a/b)/∂b = −a/b²
    ...scaleAll(contributions(e.den, ctx), (c) => mul([neg(div(e.num, pow(e.den, { kind: 'num', value: 2 }))), c])),
  ],
  pow: (e, ctx) => [
    ...scaleAll(contributions(e.base, ctx), (c) => mul([POW_RULES[0]!([e.base, e.exp]), c])),
    ...scaleAll(contributions(e.exp, ctx), (c) => mul([POW_RULES[1]!([e.base, e.exp]), c])),
  ],
  call: (e, ctx) =>
    e.args.flatMap((a, k) => {
      const cs = contributions(a, ctx);
      if (cs.length === 0) return [];
      const partial = RULES[e.fn][k]!(e.args);
      return scaleAll(cs, (c) => mul([partial, c]));
    }),
  // M[p,q] = body: ∂det M/∂M[p,q] = det M·(M⁻¹)[q,p], ∂logdet M/∂M[p,q] = (M⁻¹)[q,p],
  // ∂(M⁻¹)[a,b]/∂M[p,q] = −(M⁻¹)[a,p]·(M⁻¹)[q,b] (Matrix Cookbook; copies with binders of their own)
  matfn: (e, ctx) => {
    const inner = contributions(e.body, ctx).map((c) => ({ ...c, sums: [...e.indices, ...c.sums] }));
    if (inner.length === 0) return [];
    const [p, q] = e.indices.map((b) => idxVar(b.name)) as [IndexExpr, IndexExpr];
    const inv = (a: IndexExpr, b: IndexExpr): Expr => ({ ...freshBinder(e, ctx.names), fn: 'inv', at: [a, b] });
    const partial =
      e.fn === 'det' ? mul([{ ...freshBinder(e, ctx.names), at: [] }, inv(q, p)]) : e.fn === 'logdet' ? inv(q, p) : neg(mul([inv(e.at[0]!, p), inv(q, e.at[1]!)]));
    return scaleAll(inner, (c) => mul([partial, c]));
  },
  reduce: (e, ctx) => {
    const inner = contributions(e.body, ctx).map((c) => ({ ...c, sums: [...e.indices, ...c.sums] }));
    switch (e.op) {
      case 'sum':
        return inner;
      case 'mean':
        return scaleAll(inner, (c) => div(c, boundCount(e.indices)));
      case 'max':
      case 'min': {
        // the gradient flows only to the (first) arg-max
        const copy = freshBinder(e, ctx.names);
        const indicator: Expr = { kind: 'argmax', op: e.op, indices: copy.indices, at: e.indices.map((b) => idxVar(b.name)), body: copy.body };
        return scaleAll(inner, (c) => mul([indicator, c]));
      }
      case 'logsumexp': {
        // ∂ logsumexp / ∂ body = softmax = exp(body − logsumexp)
        const copy = freshBinder(e, ctx.names);
        return scaleAll(inner, (c) => mul([call('exp', [sub(e.body, copy)]), c]));
      }
      case 'prod': {
        // ∂ Π_j b_j / ∂ b_i = Π_j (j == i ? 1 : b_j): the other factors, with no division (a zero is fine)
        const copy = freshBinder(e, ctx.names);
        const same = mul(copy.indices.map((b, k) => compare('==', { kind: 'index', expr: idxVar(b.name) }, { kind: 'index', expr: idxVar(e.indices[k]!.name) })));
        const others = reduce('prod', copy.indices, call('where', [same, ONE, copy.body]));
        return scaleAll(inner, (c) => mul([others, c]));
      }
      default:
        return assertNever(e.op);
    }
  },
};

function contributions(e: Expr, ctx: DiffContext): Contribution[] {
  return (DIFF[e.kind] as Rule<ExprKind>)(e as never, ctx);
}

/** Every binder (of a reduction, arg-max or matrix function, also inside calls and quotients) named
 *  in `clash` renamed to a fresh name. Two uses: a partial derivative can hold a copy of a reduction
 *  whose bound index is also one of the contribution's summed indices (max(0, Σ_c …) differentiated
 *  inside Σ_c), renamed apart so that solving for the summed index never reaches into the copy; and
 *  a summed index named like a gradient position (sums are local, positions are not) — the copy of
 *  a logsumexp in its softmax, exp(e − logsumexp(…)). */
function freshenBinders(e: Expr, clash: ReadonlySet<string>, names: NameSupply): Expr {
  const go = (x: Expr): Expr => {
    if (x.kind === 'reduce' || x.kind === 'argmax' || x.kind === 'matfn') {
      const hit = x.indices.filter((b) => clash.has(b.name));
      const renamed = hit.length ? (renameIndices(x, new Map(hit.map((b) => [b.name, names.fresh(b.name)] as const))) as typeof x) : x;
      const body = go(renamed.body);
      // nothing renamed: the same node, so its parents are not rebuilt (and rehashed) either
      return renamed === x && body === x.body ? x : ({ ...renamed, body } as Expr);
    }
    return mapChildren(x, go);
  };
  return go(e);
}

export interface GradientStatement {
  /** the tensor differentiated: an input or an intermediate */
  readonly of: string;
  readonly statement: Statement;
  /** scatter-adds into the gradient after `statement` (reads through integer data: E[tok[n], d]) */
  readonly scatters?: readonly Statement[];
  /** with scatters: the whole gradient in gather form, dE[v,d] = sum(n) (tok[n] == v)*dY[n,d] — the
   *  math they compute (for LaTeX), at a cost of V·N·D the scatters avoid */
  readonly gathered?: Statement;
  readonly steps: string[];
  /** a value the planner made for the gradients (src/plan/): computed in backward, not returned */
  readonly temporary?: boolean;
}

export interface DifferentiateOptions {
  readonly wrt?: readonly string[];
  /** a scalar output's seed is 1 (printing); otherwise it is the input `dL` (kernels) */
  readonly unitScalarSeeds?: boolean;
  /** expression nodes of all the gradients together (limits.maxNodes) */
  readonly maxNodes?: number;
  /** the adjoints' names (default d + the tensor's): a gradient program differentiated again must
   *  not take the names its own tensors have */
  readonly adjointName?: (tensor: string) => string;
  /** the Jacobian of one output instead of the gradient of all: every adjoint statement gets the
   *  output's indices (`rows`, fresh names) first, the output's seed is Π δ(l_k, rows_k), and the
   *  other outputs seed nothing — a Hessian block is the Jacobian of a gradient */
  readonly jacobian?: { readonly of: string; readonly rows: readonly Bound[] };
  /** write each gradient's derivation (GradientStatement.steps); default true. Without, steps are
   *  empty and no text is made: printing every term of a 10 000-term gradient costs more than deriving it */
  readonly steps?: boolean;
}

/** Sizes of expressions already measured. An expression is a tree that may share subtrees (a
 *  parameter of an inlined def), so its size is summed over its children, each measured once. */
const SIZES = new WeakMap<Expr, number>();
/** smaller expressions are counted again rather than kept: a weak map's entries cost every minor
 *  garbage collection (exprs.ts, HASH_KEPT) */
const SIZE_KEPT = 32;

/** The number of nodes of e as a tree (saturating at 2⁵³). */
function treeSize(e: Expr): number {
  const known = SIZES.get(e);
  if (known !== undefined) return known;
  let n = 1;
  for (const c of children(e)) n += treeSize(c);
  n = Math.min(Number.MAX_SAFE_INTEGER, n);
  if (n >= SIZE_KEPT) SIZES.set(e, n);
  return n;
}

export const gradName = (t: string) => `d${t}`;

/** Reverse mode over the whole program; gradients come out in an order where each is defined before it is read. */
export function differentiate(p: Program, opts: DifferentiateOptions = {}): GradientStatement[] {
  const inputs = p.tensors.filter((t) => t.role === 'input' && t.elem !== 'int').map((t) => t.name);
  const wrt = opts.wrt ?? inputs;
  const info = new Map(p.tensors.map((t) => [t.name, t] as const));
  const scattered = scatteredTensors(p.statements);
  for (const w of wrt) {
    const t = info.get(w);
    if (t?.elem === 'int') throw new DeltagradError('not-an-input', `${w} is integer data: it has no gradient`, t.span, `differentiate with respect to the real inputs: ${inputs.join(', ') || '(none)'}`);
    if (!t || t.role !== 'input')
      throw new DeltagradError(
        'not-an-input',
        `${w} is not an input of the program${t ? ` (it is ${t.role === 'output' ? 'an output' : 'an intermediate'})` : ''}`,
        t?.span,
        `inputs are: ${inputs.join(', ') || '(none)'}`,
      );
  }
  // the statements that read each tensor, in program order, and every access of it: found once, not
  // once per target (a chain of 20 000 statements would otherwise cost 20 000² walks)
  const readers = new Map<string, Statement[]>();
  for (const s of p.statements)
    for (const t of tensorsRead(s.rhs)) {
      const list = readers.get(t);
      if (list) list.push(s);
      else readers.set(t, [s]);
    }
  const accesses = accessesByTensor(p.statements);
  // a tensor a += adds into is not its first statement's right side: no gradient reads it as that
  const forward = forwardValues(p.statements.filter((s) => !scattered.has(s.tensor)));
  // which tensors depend on a wrt input
  const depends = new Set<string>(wrt);
  for (const s of p.statements) if (tensorsRead(s.rhs).some((t) => depends.has(t))) depends.add(s.tensor);
  const needed = [...p.statements]
    .reverse()
    .filter((s) => info.get(s.tensor)!.role === 'intermediate' && depends.has(s.tensor))
    .map((s) => s.tensor)
    // a tensor with += statements appears once, at its last: its gradient comes before any it feeds
    .filter((t, k, all) => all.indexOf(t) === k);
  const jac = opts.jacobian;
  // for a Jacobian, only the tensors the output is computed from (the others' adjoints are 0)
  const feeds = new Set<string>(jac ? [jac.of] : p.tensors.map((t) => t.name));
  if (jac) for (const s of [...p.statements].reverse()) if (feeds.has(s.tensor)) tensorsRead(s.rhs).forEach((t) => feeds.add(t));
  const targets = [...needed.filter((t) => feeds.has(t)), ...wrt];
  const adjoint = opts.adjointName ?? gradName;
  const rows = jac?.rows ?? [];
  // gradients and seeds are named d + the tensor (LANGUAGE.md): a tensor of the program with
  // such a name would be read where the gradient is meant, and the numbers would be silently wrong
  const seeded = p.tensors.filter((t) => t.role === 'output' && depends.has(t.name) && feeds.has(t.name)).map((t) => t.name);
  for (const t of [...targets, ...seeded]) {
    const clash = info.get(adjoint(t));
    if (clash)
      throw new DeltagradError('bad-name', `${clash.name} is the name of the gradient of ${t}`, clash.span, `rename the tensor ${clash.name} (for example g${t}): gradients are named d + the tensor's name`);
  }

  const maxNodes = opts.maxNodes ?? DEFAULT_LIMITS.maxNodes;
  let budget = maxNodes;
  const names = new NameSupply([
    ...p.tensors.map((t) => t.name),
    ...p.tensors.map((t) => adjoint(t.name)),
    ...rows.map((b) => b.name),
    ...p.sizes.map((s) => s.name),
    ...p.statements.flatMap((s) => [...s.lhs.map((b) => b.name), ...allIndexNames(s.rhs)]),
  ]);
  const reservedNames = new Set([...p.tensors.map((t) => t.name), ...p.tensors.map((t) => adjoint(t.name)), ...p.sizes.map((s) => s.name), ...rows.map((b) => b.name)]);
  const adjointOf = new Map(p.tensors.map((t) => [adjoint(t.name), t.name] as const));
  const defaults = new Map<string, number>();
  for (const s of p.sizes) if (s.default !== undefined) defaults.set(s.name, s.default);
  const shapeOf = (t: string): readonly SizeExpr[] | undefined => {
    if (info.has(t)) return info.get(t)!.shape;
    if (adjointOf.has(t)) return [...rows.map((b) => b.extent), ...info.get(adjointOf.get(t)!)!.shape];
    return undefined;
  };

  // each statement printed once for the derivation, not once per gradient (10 000 inputs of one sum)
  const texts = new Map<Statement, { statement: string; rhs: string }>();
  const wanted = opts.steps ?? true;
  const printed = (s: Statement) => {
    if (!texts.has(s)) texts.set(s, { statement: printStatement(s), rhs: printExpr(s.rhs) });
    return texts.get(s)!;
  };

  return targets.map((target) => {
    const tinfo = info.get(target)!;
    const positions = positionNames(tinfo, accesses.get(target) ?? [], names, reservedNames);
    const primed = positions.map((b) => ({ name: `${b.name}'`, extent: b.extent }));
    const steps: string[] = [];
    /** a line of the derivation, written only when asked for */
    const note = (line: () => string) => {
      if (wanted) steps.push(line());
    };
    const pieces: Expr[] = [];
    const scatters: Scatter[] = [];
    const gathered: Expr[] = [];
    const dT = adjoint(target);
    const posText = primed.length ? `[${primed.map((b) => b.name).join(',')}]` : '';
    for (const s of readers.get(target) ?? []) {
      const out = info.get(s.tensor)!;
      if (!depends.has(s.tensor) || !feeds.has(s.tensor)) continue;
      // the Jacobian's output: its seed is a δ per index, a row of the identity
      const jacSeed = jac?.of === s.tensor;
      const scalarSeed = (out.role === 'output' && out.shape.length === 0 && opts.unitScalarSeeds && !jac) || jacSeed;
      // the element the statement writes: its left side, or where a += adds (dE[tok[n], d] reads the
      // adjoint there: the derivative of an accumulation is the accumulation of derivatives)
      const writes = s.scatter ? s.scatter.at : s.lhs.map((b) => idxVar(b.name));
      const upstream: Expr = scalarSeed ? ONE : access(adjoint(s.tensor), [...rows.map((b) => idxVar(b.name)), ...writes]);
      const seedDeltas = jacSeed ? writes.map((a, k) => ({ a, b: idxVar(rows[k]!.name) })) : [];
      const raw = contributions(s.rhs, { target, names });
      // before any pass walks a term: a term can be as large as its statement times its depth
      for (const c of raw) {
        const n = treeSize(c.factor);
        if (n > budget)
          throw new DeltagradError(
            'too-large',
            n > maxNodes
              ? `d${target} has a term of ${count(n)} nodes through ${s.tensor}; the gradients may have ${count(maxNodes)}`
              : `the gradients would have more than ${count(maxNodes)} nodes, the limit, when d${target} adds its term of ${count(n)} through ${s.tensor}`,
            s.span,
            'an expression that uses a value many times, or nests deeply, has a gradient about its size times its depth: compute a repeated value once, as a tensor of its own (`t = …`)',
          );
        budget -= n;
      }
      const cs = raw.map((c) => {
        // nothing bound around the access (y = X[0]*1 + …): no binder can clash
        if (c.sums.length === 0 && s.lhs.length === 0) return c;
        return { ...c, factor: freshenBinders(c.factor, new Set([...c.sums.map((b) => b.name), ...s.lhs.map((b) => b.name)]), names) };
      });
      // the same for every term of the statement (10 000 of them in one sum)
      const ends = [...rows, ...primed];
      const elimination = { forwardLhs: new Set(s.lhs.map((b) => b.name)), positions: ends, shapeOf, defaults, fresh: (base: string) => names.fresh(base) };
      const lhsText = s.lhs.length ? `[${s.lhs.map((b) => b.name).join(',')}]` : '';
      note(() => `from ${printed(s).statement}`);
      if (!scalarSeed) note(() => `  chain rule: ${dT}${posText} += Σ_{${s.lhs.map((b) => b.name).join(',')}} ${adjoint(s.tensor)}${lhsText} · ∂${s.tensor}${lhsText}/∂${target}${posText}`);
      for (const c of cs) {
        const reused = isTrivial(s.rhs) || scattered.has(s.tensor) ? c.factor : replaceExpr(c.factor, s.rhs, access(s.tensor, s.lhs.map((b) => idxVar(b.name))));
        const deltas = c.subs.map((sub, k) => ({ a: sub, b: idxVar(primed[k]!.name) }));
        note(() => {
          const local = mul([reused, ...deltas.map((d) => ({ kind: 'delta', a: d.a, b: d.b }) as Expr)]);
          return `  ∂${s.tensor}${lhsText}/∂${target}${posText} ∋ ${c.sums.length ? `sum(${c.sums.map((b) => b.name).join(',')}) ` : ''}${printExpr(local)}${reused !== c.factor ? `   (${printed(s).rhs} is the forward value ${s.tensor}${lhsText})` : ''}`;
        });
        const term: Term = { sums: [...s.lhs, ...c.sums], factor: mul([reused, upstream]), deltas: [...deltas, ...seedDeltas] };
        note(() => {
          const shown = mul([term.factor, ...deltas.map((d) => ({ kind: 'delta', a: d.a, b: d.b }) as Expr)]);
          return `  term: ${term.sums.length ? `sum(${term.sums.map((b) => b.name).join(',')}) ` : ''}${printExpr(shown)}`;
        });
        const done = eliminateDeltas(term, elimination);
        if (!done) {
          note(() => '  this term is 0');
          continue;
        }
        if (wanted) steps.push(...done.steps.map((x) => `  ${x}`), `  gives ${printExpr(done.expr)}`);
        const scatter = scatterDataGuards(done.expr, ends);
        if (scatter) {
          note(() => `  it reads data at a summed index: a scatter-add, ${dT}[${scatter.at.map(printIndex).join(',')}] += ${printExpr(scatter.rhs)} for every ${scatter.loops.map((b) => b.name).join(', ')}`);
          scatters.push(scatter);
        } else pieces.push(done.expr);
        gathered.push(done.expr);
      }
    }
    // Drop the primes from the positions; rename any summed index that would clash.
    const clean = new Map(primed.map((b, k) => [b.name, positions[k]!.name] as const));
    const free = new Set([...rows, ...positions].map((b) => b.name));
    const tidy = (e: Expr, log?: (line: string) => void) => tidyBoundNames(renameIndices(freshenBinders(simplify(e, log), free, names), clean), free);
    let rhs = tidy(add(pieces), wanted ? (line) => steps.push(`simplify — ${line}`) : undefined);
    if (clean.size) note(() => `rename ${[...clean].map(([a, b]) => `${a} → ${b}`).join(', ')}`);
    const log = wanted ? (line: string) => steps.push(line) : undefined;
    rhs = reuseForward(rhs, forward, new Map([...rows, ...positions].map((b) => [b.name, b.extent] as const)), log);
    rhs = hoistFactors(rhs, log);
    rhs = factorCommon(rhs, log);
    const statement: Statement = { tensor: dT, lhs: [...rows, ...positions], rhs, line: 0 };
    note(() => `result: ${printStatement(statement)}`);
    if (!scatters.length) return { of: target, statement, steps };
    // a summed index promoted to a loop keeps its name unless a position now has it
    const added = scatters.map((sc) => {
      const map = new Map(clean);
      for (const b of sc.loops) if (!clean.has(b.name) && free.has(b.name)) map.set(b.name, names.fresh(b.name));
      const r = renameScatter(sc, map, (e) => renameIndices(freshenBinders(e, new Set([...free, ...map.values()]), names), map));
      return { tensor: dT, lhs: r.loops, rhs: simplify(r.rhs), line: 0, scatter: { at: r.at } } satisfies Statement;
    });
    if (wanted) steps.push(...added.map((s) => `then: ${printStatement(s)}`));
    return { of: target, statement, scatters: added, gathered: { ...statement, rhs: tidy(add(gathered)) }, steps };
  });
}

/** The tensors a += adds into. Each must be read only after its last +=: a read between its first
 *  statement and a += sees a value that is no statement's, which reverse mode has no adjoint for. */
function scatteredTensors(statements: readonly Statement[]): Set<string> {
  const last = new Map<string, number>();
  statements.forEach((s, k) => s.scatter && last.set(s.tensor, k));
  if (last.size === 0) return new Set();
  statements.forEach((s, k) => {
    for (const t of tensorsRead(s.rhs)) {
      const until = last.get(t);
      if (until === undefined || k >= until) continue;
      if (k > statements.findIndex((x) => x.tensor === t))
        throw new DeltagradError('used-before-assigned', `${s.tensor} reads ${t} before the += into it in line ${statements[until]!.line}: the value it reads cannot be differentiated`, s.span, `read ${t} after its last +=, or give the partial sum a name of its own`);
    }
  });
  return new Set(last.keys());
}

const isTrivial = (e: Expr) => e.kind === 'access' || e.kind === 'num' || e.kind === 'index' || e.kind === 'sizeval';

type Access = Extract<Expr, { kind: 'access' }>;

/** Every access of every tensor in the statements, by tensor, in program order. */
function accessesByTensor(statements: readonly Statement[]): Map<string, Access[]> {
  const out = new Map<string, Access[]>();
  const walk = (e: Expr) => {
    if (e.kind === 'access') {
      const list = out.get(e.tensor);
      if (list) list.push(e);
      else out.set(e.tensor, [e]);
    }
    for (const c of children(e)) walk(c);
  };
  statements.forEach((s) => walk(s.rhs));
  return out;
}

/** Gradient positions: the plain index used for that dimension, else the lowercase size name, else p0, p1 … */
function positionNames(t: TensorInfo, accesses: readonly Access[], names: NameSupply, reserved: ReadonlySet<string>): Bound[] {
  const chosen: string[] = [];
  return t.shape.map((extent, k) => {
    const plain = [...new Set(accesses.map((a) => idxAsVar(a.subs[k]!)))];
    const named = sizeNames(extent);
    const dimName = named.length === 1 && extent.kind === 'poly' ? named[0]!.toLowerCase() : undefined;
    const single = plain.length === 1 ? plain[0] : undefined;
    // a bound index renamed apart by the checker (c2) reads better under its own name (c)
    const stripped = single?.replace(/\d+$/, '');
    // a square matrix's two dimensions have one size name: i, j read better than n, p1
    const shared = t.shape.length === 2 && t.shape.every((d) => sizeNames(d).length === 1 && d.kind === 'poly' && sizeNames(d)[0]!.toLowerCase() === dimName);
    const letters = shared ? ['i', 'j'] : [];
    const candidates = [stripped && stripped !== single ? stripped : undefined, single, shared ? undefined : dimName, ...letters, `p${k}`].filter((x): x is string => !!x);
    let name = candidates.find((c) => !chosen.includes(c) && !reserved.has(c)) ?? names.fresh(candidates[0] ?? 'p');
    if (chosen.includes(name)) name = names.fresh(name);
    chosen.push(name);
    return { name, extent };
  });
}


/** Bound indices renamed apart along the way (c3, h2) take back the plainest free name in their scope. */
function tidyBoundNames(e: Expr, scope: ReadonlySet<string>): Expr {
  // one closure a scope, not one a node
  const go = (x: Expr): Expr => {
    if (x.kind !== 'reduce' && x.kind !== 'argmax' && x.kind !== 'matfn') return mapChildren(x, go);
    const inner = new Set(scope);
    const map = new Map<string, string>();
    // a name the node already uses anywhere — a later index of this list, a reduction nested in the
    // body — would bind twice or capture: sum(i,r4,r2) must not become sum(i,r2,r2)
    const used = new Set(allIndexNames(x));
    for (const b of x.indices) {
      const stem = b.name.replace(/\d+$/, '') || b.name;
      for (let k = 1; ; k++) {
        const cand = k === 1 ? stem : `${stem}${k}`;
        if (cand === b.name) break;
        if (!inner.has(cand) && !used.has(cand) && ![...map.values()].includes(cand)) {
          map.set(b.name, cand);
          break;
        }
      }
      inner.add(map.get(b.name) ?? b.name);
    }
    const renamed = map.size ? (renameIndices(x, map) as typeof x) : x;
    const body = tidyBoundNames(renamed.body, inner);
    // nothing renamed: the same node, so its parents are not rebuilt either
    return renamed === x && body === x.body ? x : ({ ...renamed, body } as Expr);
  };
  return go(e);
}

export { exprKey, freeIndices, printIndex, sizeTryEval };
