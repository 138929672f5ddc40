// lowerExpr: one expression of the math IR → a loop-IR value, and the statements (a reduction's loops)
// that must run before it.
//
// Worked example, inside the loops of `Y1[h] = sqrt(X[h+1]^2 + c)`'s gradient:
//   dY1[h-1]/Y1[h-1]  →  select(h − 1 >= 0, load(dY1, h − 1) / load(Y1, h − 1), 0)
// A read outside its tensor is 0 and 0 absorbs its product or quotient, as in the interpreter: the
// term is computed only where the read is in range (0/0 = NaN otherwise). A comparison factor absorbs
// the same way — the gradient of where(X > 0, 1/X, X) is not NaN at X = 0 — unless the rest of the
// product cannot leave the finite numbers, where the flag multiplies (a ReLU mask: no branch).
import { exprKey, freeIndices } from '../ir/exprs.js';
import { assertNever, type Builtin, type Expr } from '../ir/types.js';
import { add, all, buffer, c, call, cast, cmp, div, eq, for_, ge, gt, isConst, let_, load, lt, mul, ne, neg, select, store, sym, unary, v } from '../loop/build.js';
import { exprKey as lexprKey } from '../loop/mapLoop.js';
import type { Buf, Intrinsic, LExpr, LStmt, Sym } from '../loop/types.js';
import { argmaxName, nonNegative, type Access } from './kernelScope.js';
import type { Hoisted, Lowered, Lowering, Vars } from './lowering.js';
import { matchRecorded } from './matchRecorded.js';

/** Functions whose value is finite wherever their arguments are. */
const FINITE_FUNCTIONS = new Set<Builtin>(['relu', 'sigmoid', 'tanh', 'abs', 'sin', 'cos', 'max', 'min', 'where', 'elu', 'softplus', 'floor', 'ceil', 'round', 'sign', 'atan', 'atan2', 'erf', 'cbrt', 'clamp', 'asinh']);

/** Finite for finite data: no division, logarithm, root, power or exponential that could make ±∞ or NaN. */
export function staysFinite(e: Expr): boolean {
  switch (e.kind) {
    case 'num':
      return Number.isFinite(e.value);
    case 'sizeval':
    case 'index':
    case 'access':
    case 'compare':
    case 'argmax':
    case 'delta':
      return true;
    case 'add':
      return e.terms.every(staysFinite);
    case 'mul':
      return e.factors.every(staysFinite);
    case 'neg':
      return staysFinite(e.arg);
    case 'pow':
      return e.exp.kind === 'num' && Number.isInteger(e.exp.value) && e.exp.value >= 0 && staysFinite(e.base);
    case 'call':
      return FINITE_FUNCTIONS.has(e.fn) && e.args.every(staysFinite);
    case 'reduce':
      return (e.op === 'sum' || e.op === 'max' || e.op === 'min' || e.op === 'prod') && staysFinite(e.body);
    case 'div':
    case 'matfn':
      return false;
    default:
      return assertNever(e);
  }
}

/** The loop-IR intrinsic of a language function (max and min as the language means them). */
const INTRINSIC: Record<Exclude<Builtin, 'where' | 'clamp' | 'floor' | 'ceil'>, Intrinsic> = {
  exp: 'exp', log: 'log', sqrt: 'sqrt', abs: 'abs', sin: 'sin', cos: 'cos', tanh: 'tanh', pow: 'pow',
  relu: 'relu', sigmoid: 'sigmoid', softplus: 'softplus', elu: 'elu', max: 'fmax', min: 'fmin',
  round: 'round', sign: 'sign', tan: 'tan', atan: 'atan', atan2: 'atan2', asin: 'asin', acos: 'acos', sinh: 'sinh',
  cosh: 'cosh', asinh: 'asinh', acosh: 'acosh', atanh: 'atanh', erf: 'erf', log2: 'log2', log10: 'log10', cbrt: 'cbrt',
};

/** A read as its value and the condition that it lies in the tensor (undefined when proven). */
export function readParts(L: Lowering, x: Access, vars: Vars): { value: LExpr; check?: LExpr } {
  const { scope } = L;
  scope.tensor(x.tensor, 'read');
  const buf = scope.source(x.tensor);
  if (x.subs.length === 0) return { value: load(buf, c(0)) };
  const off = scope.offset(x.tensor, x.subs, vars);
  if (scope.inRange(x)) return { value: load(buf, off) };
  const shape = scope.ctx.shapeOf(x.tensor);
  const checks = x.subs.flatMap((s, d) => {
    if (scope.subscriptInRange(s, shape[d]!)) return [];
    const i = scope.index(s, vars);
    return [...(nonNegative(s) ? [] : [ge(i, c(0))]), lt(i, scope.dim(x.tensor, d))];
  });
  return { value: load(buf, off, { inBounds: false }), check: all(checks) };
}

export function lowerExpr(L: Lowering, e: Expr, vars: Vars, hoisted: Hoisted): Lowered {
  const { scope } = L;
  const stmts: LStmt[] = [];
  const F = scope.F;
  const go = (x: Expr): LExpr => {
    switch (x.kind) {
      case 'num':
        return c(x.value, F);
      case 'sizeval':
        return cast(F, scope.sizeExpr(x.size));
      case 'index':
        return cast(F, scope.index(x.expr, vars));
      case 'access': {
        const r = readParts(L, x, vars);
        return r.check ? select(r.check, r.value, c(0, F)) : r.value;
      }
      case 'delta':
        return cast(F, eq(scope.index(x.a, vars), scope.index(x.b, vars)));
      case 'add':
        return balanced(x.terms.map(go), add);
      case 'neg':
        return neg(go(x.arg));
      case 'mul':
      case 'div': {
        const t = product(x, !staysFinite(x));
        const tests = dedupe(t.checks);
        return tests.length ? select(all(tests), t.value, c(0, F)) : t.value;
      }
      case 'pow': {
        const base = go(x.base);
        // x² of a read or a local as x·x: cheaper than Math.pow
        if (x.exp.kind === 'num' && x.exp.value === 2 && (base.kind === 'var' || base.kind === 'load')) return mul(base, base);
        return call('pow', F, [base, go(x.exp)]);
      }
      case 'compare':
        // a flag: +(a > b) compiles to a set, not a branch
        return cast(F, compareBool(x));
      case 'call': {
        if (x.fn === 'where') {
          const [cond, a, b] = x.args as [Expr, Expr, Expr];
          const test = cond.kind === 'compare' ? compareBool(cond) : ne(go(cond), c(0, F));
          return select(test, go(a), go(b));
        }
        if (x.fn === 'floor' || x.fn === 'ceil') return unary(x.fn, F, go(x.args[0]!));
        if (x.fn === 'clamp') {
          // lo below lo, hi above hi, else x — as the interpreter's (x < lo ? lo : x > hi ? hi : x)
          const vx = sym('$x', F);
          stmts.push(let_(vx, go(x.args[0]!)));
          const [lo, hi] = [go(x.args[1]!), go(x.args[2]!)];
          return select(lt(v(vx), lo), lo, select(gt(v(vx), hi), hi, v(vx)));
        }
        return call(INTRINSIC[x.fn], F, x.args.map(go));
      }
      case 'reduce': {
        const h = hoisted.get(exprKey(x));
        if (h) return h;
        const r = L.reduction(x, vars, false);
        stmts.push(...r.stmts);
        return r.value;
      }
      case 'argmax':
        return cast(F, indicator(x));
      case 'matfn': {
        const n = scope.sizeExpr(x.indices[0]!.extent);
        const result = matrixFunction(x);
        if (x.fn !== 'inv') return load(result, c(0));
        const [a, b] = x.at.map((s) => scope.index(s, vars)) as [LExpr, LExpr];
        // outside the matrix the element reads 0, as a read out of range does
        const checks = x.at.flatMap((s, k) => (scope.subscriptInRange(s, x.indices[k]!.extent) ? [] : [...(nonNegative(s) ? [] : [ge(k ? b : a, c(0))]), lt(k ? b : a, n)]));
        const value = load(result, add(mul(a, n), b), { inBounds: checks.length === 0 });
        return checks.length ? select(all(checks), value, c(0, F)) : value;
      }
      default:
        return assertNever(x);
    }
  };
  /** The buffer holding a matrix function's value (the inverse, or det / logdet in element 0): in
   *  the kernel's prologue when the matrix depends on no index, else computed here. */
  const matrixFunction = (x: Extract<Expr, { kind: 'matfn' }>): Buf => {
    const whole = { ...x, at: [] };
    const once = freeIndices(whole).length === 0;
    const key = exprKey(whole);
    const known = once ? scope.matrices.get(key) : undefined;
    if (known) return known;
    const n = scope.sizeExpr(x.indices[0]!.extent);
    const m = buffer('$M', F);
    const out = buffer(`$${x.fn}`, F);
    const [p, q] = x.indices.map((b) => sym(b.name, 'i32')) as [Sym, Sym];
    const inner = new Map(once ? [] : vars);
    inner.set(x.indices[0]!.name, v(p));
    inner.set(x.indices[1]!.name, v(q));
    const body = L.expr(x.body, inner, once ? new Map() : hoisted);
    const what = x.of && x.body.kind === 'access' && x.body.tensor === x.of ? `${x.fn}(${x.of})` : `${x.fn}(…)`;
    const steps: LStmt[] = [
      { kind: 'alloc', buf: m, size: mul(n, n), scope: 'call', zero: false },
      for_(p, c(0), n, [for_(q, c(0), n, [...body.stmts, store(m, add(mul(v(p), n), v(q)), body.value)])]),
      { kind: 'alloc', buf: out, size: x.fn === 'inv' ? mul(n, n) : c(1), scope: 'call', zero: false },
      { kind: 'linalg', fn: x.fn, src: m, n, dst: out, what },
    ];
    if (once) {
      scope.prologue.push(...steps);
      scope.matrices.set(key, out);
    } else stmts.push(...steps);
    return out;
  };
  const compareBool = (x: Extract<Expr, { kind: 'compare' }>): LExpr => cmp(x.op, go(x.a), go(x.b));
  /** A product or quotient, and the tests under which it is not 0: reads out of range among its
   * factors and numerators, and — when `masksAbsorb` — its comparison factors. */
  const product = (x: Expr, masksAbsorb: boolean): { value: LExpr; checks: LExpr[] } => {
    switch (x.kind) {
      case 'access': {
        const r = readParts(L, x, vars);
        return { value: r.value, checks: r.check ? [r.check] : [] };
      }
      case 'mul': {
        const parts = x.factors.map((f) => product(f, masksAbsorb));
        const value = balanced(parts.map((p) => p.value).filter((p) => !isConst(p, 1)), mul) ?? c(1, F);
        return { value, checks: parts.flatMap((p) => p.checks) };
      }
      case 'compare':
        return masksAbsorb ? { value: c(1, F), checks: [compareBool(x)] } : { value: go(x), checks: [] };
      case 'div': {
        const num = product(x.num, masksAbsorb);
        // a denominator read with the numerator's own test needs no second one
        const den = x.den.kind === 'access' ? readParts(L, x.den, vars) : undefined;
        const denValue = den && (!den.check || num.checks.some((k) => lexprKey(k) === lexprKey(den.check!))) ? den.value : go(x.den);
        return { value: div(num.value, denValue), checks: num.checks };
      }
      default:
        return { value: go(x), checks: [] };
    }
  };
  /** 1 where `at` is the first arg-max of the indicator's window, as a boolean. */
  const indicator = (x: Extract<Expr, { kind: 'argmax' }>): LExpr => {
    const at = x.at.map((a) => scope.index(a, vars));
    const local = (codes: readonly LExpr[]) =>
      x.indices.reduce((acc, b, i) => add(acc, mul(codes[i]!, x.indices.slice(i + 1).reduce((m, y) => mul(m, scope.sizeExpr(y.extent)), c(1)))), c(0));
    const inWindow = x.indices.flatMap((b, i) => (scope.subscriptInRange(x.at[i]!, b.extent) ? [] : [ge(at[i]!, c(0)), lt(at[i]!, scope.sizeExpr(b.extent))]));
    const rec = scope.opts.optimize ? matchRecorded(scope.ctx.recordsArgmax, x) : undefined;
    if (rec) {
      // the forward pass recorded each window's arg-max: compare positions
      const record = scope.tensor(argmaxName(rec.tensor), 'read', 'i32');
      const subs = rec.at.map((s) => scope.index(s, vars));
      const shape = scope.ctx.shapeOf(rec.tensor);
      const inShape = rec.at.flatMap((s, d) => (scope.subscriptInRange(s, shape[d]!) ? [] : [...(nonNegative(s) ? [] : [ge(subs[d]!, c(0))]), lt(subs[d]!, scope.dim(rec.tensor, d))]));
      const off = subs.reduce((acc, sub, d) => add(acc, mul(sub, scope.stride(rec.tensor, d))), c(0));
      return all([...inWindow, ...inShape, eq(load(record, off, { inBounds: inShape.length === 0 }), local(at))]);
    }
    // no record: find the first arg-max here
    const red = L.reduction({ kind: 'reduce', op: x.op, indices: x.indices, body: x.body }, vars, true);
    stmts.push(...red.stmts);
    return all([...inWindow, eq(red.arg!, local(at))]);
  };
  const value = go(e);
  return { stmts, value };
}

/** a ∘ b ∘ c ∘ … as a balanced tree: a 10 000-term sum is 14 levels deep, not 10 000 (every pass
 * and printer recurses on depth). Undefined for no operands. */
function balanced(xs: readonly LExpr[], op: (a: LExpr, b: LExpr) => LExpr): LExpr {
  if (xs.length <= 2) return xs.length === 2 ? op(xs[0]!, xs[1]!) : xs[0]!;
  const half = xs.length >> 1;
  return op(balanced(xs.slice(0, half), op), balanced(xs.slice(half), op));
}

/** Tests without repeats (the same read tested once). */
function dedupe(xs: readonly LExpr[]): LExpr[] {
  const seen = new Set<string>();
  return xs.filter((x) => {
    const k = lexprKey(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
