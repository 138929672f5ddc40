// hoistInvariants: loop-invariant code motion and common subexpressions. What a loop computes the
// same on every iteration is computed once, before the loop (and before the loops outside it that it
// does not depend on either); equal lets in scope are one let.
//
// Worked example:
//   for n … { for c … { for h in [0, min(H, (Hp − R)/T + 1)) { store(Y, $p, load(X, $q) * (lr*2)) } } }
// becomes
//   let $hi = min(H, (Hp − R)/T + 1); let $k = lr*2
//   for n … { for c … { for h in [0, $hi) { store(Y, $p, load(X, $q) * $k) } } }
// Three steps per loop, innermost loops first: a loop's non-trivial bounds become lets before it
// (JavaScript evaluates `h < hi` every iteration); lets at the top of its body whose inits do not
// depend on it move before it; and the largest invariant subexpressions of its body's statements
// become such lets. Loads stay where they are (a store in the loop could change them), and so do
// expressions too cheap to name. Then equal immutable lets merge, and a let of a plain variable
// (`let a = b`) is replaced by that variable.
import { let_, readsMemory, substituteAll, sym, v, varsOf } from '../loop/build.js';
import { exprKey, mapStmtExprs, walkStmts } from '../loop/mapLoop.js';
import type { Kernel, LExpr, LStmt, Sym } from '../loop/types.js';

/** Symbols bound or assigned anywhere in a statement list, and the list's loop variables. */
function changedIn(body: readonly LStmt[], out = new Set<Sym>()): Set<Sym> {
  for (const s of body) {
    if (s.kind === 'let' || s.kind === 'assign') out.add(s.v);
    else if (s.kind === 'for') {
      out.add(s.v);
      changedIn(s.body, out);
    } else if (s.kind === 'if') {
      changedIn(s.then, out);
      changedIn(s.else, out);
    } else if (s.kind === 'block') changedIn(s.body, out);
  }
  return out;
}

const hasLoad = readsMemory;

/** Worth a name: an operation (not a variable, a constant, or a flag of one). */
const worthNaming = (e: LExpr) => e.kind === 'binary' || e.kind === 'call' || e.kind === 'select' || (e.kind === 'unary' && e.op !== 'cast' && e.op !== 'neg');

function hoistLoop(loop: Extract<LStmt, { kind: 'for' }>, boundsOnly: boolean): LStmt[] {
  const changed = changedIn(loop.body);
  changed.add(loop.v);
  const invariant = (e: LExpr) => ![...varsOf(e)].some((s) => changed.has(s)) && !hasLoad(e);
  const before: LStmt[] = [];
  const named = new Map<string, Sym>();
  const name = (e: LExpr, hint: string): LExpr => {
    const key = exprKey(e);
    let s = named.get(key);
    if (!s) {
      s = sym(hint, e.ty);
      named.set(key, s);
      before.push(let_(s, e));
    }
    return v(s);
  };
  // the loop's own bounds, evaluated once before it
  const bound = (e: LExpr, hint: string) => (worthNaming(e) ? name(e, hint) : e);
  const lo = bound(loop.lo, '$lo');
  const hi = bound(loop.hi, '$hi');
  const step = bound(loop.step, '$step');
  if (boundsOnly) return [...before, { ...loop, lo, hi, step }];
  // lets at the top of the body that do not depend on the loop
  const kept: LStmt[] = [];
  for (const s of loop.body) {
    if (s.kind === 'let' && !s.mutable && invariant(s.init)) {
      before.push(s);
      changed.delete(s.v);
      continue;
    }
    kept.push(s);
  }
  // the largest invariant subexpressions of what stays (a nested loop's were hoisted to its own
  // top, and moved here just now, when they are invariant here too)
  const lift = (e: LExpr): LExpr => {
    if (worthNaming(e) && invariant(e)) return name(e, '$k');
    switch (e.kind) {
      case 'binary': {
        const a = lift(e.a);
        const b = lift(e.b);
        return a === e.a && b === e.b ? e : { ...e, a, b };
      }
      case 'unary': {
        const a = lift(e.a);
        return a === e.a ? e : { ...e, a };
      }
      case 'select': {
        const cond = lift(e.cond);
        const then = lift(e.then);
        const otherwise = lift(e.else);
        return cond === e.cond && then === e.then && otherwise === e.else ? e : { ...e, cond, then, else: otherwise };
      }
      case 'call': {
        const args = e.args.map(lift);
        return args.every((a, i) => a === e.args[i]) ? e : { ...e, args };
      }
      case 'load': {
        const index = lift(e.index);
        return index === e.index ? e : { ...e, index };
      }
      default:
        return e;
    }
  };
  const liftTop = (body: readonly LStmt[]): LStmt[] =>
    body.map((s) => {
      if (s.kind === 'for') return { ...s, lo: lift(s.lo), hi: lift(s.hi), step: lift(s.step) };
      if (s.kind === 'if') return { ...s, cond: lift(s.cond), then: liftTop(s.then), else: liftTop(s.else) };
      if (s.kind === 'block') return { ...s, body: liftTop(s.body) };
      return mapStmtExprs([s], lift)[0]!;
    });
  const body = liftTop(kept);
  return [...before, { ...loop, lo, hi, step, body }];
}

function hoistList(body: readonly LStmt[], boundsOnly: boolean): LStmt[] {
  return body.flatMap((s): LStmt[] => {
    switch (s.kind) {
      case 'for':
        return hoistLoop({ ...s, body: hoistList(s.body, boundsOnly) }, boundsOnly);
      case 'if':
        return [{ ...s, then: hoistList(s.then, boundsOnly), else: hoistList(s.else, boundsOnly) }];
      case 'block':
        return [{ ...s, body: hoistList(s.body, boundsOnly) }];
      default:
        return [s];
    }
  });
}

/** The statement with its own expressions mapped (a loop's bounds, an if's condition), not its body's. */
function ownExprs(s: LStmt, f: (e: LExpr) => LExpr): LStmt {
  switch (s.kind) {
    case 'for':
      return { ...s, lo: f(s.lo), hi: f(s.hi), step: f(s.step) };
    case 'if':
      return { ...s, cond: f(s.cond) };
    case 'block':
      return s;
    default:
      return mapStmtExprs([s], f)[0]!;
  }
}

/** Merge equal immutable lets in scope, and replace lets of a plain variable by the variable — where
 * what they read is never assigned (a pointer advanced between two equal lets makes them differ). */
function mergeLets(body: readonly LStmt[], outer: ReadonlyMap<string, Sym>, renamed: Map<Sym, LExpr>, assigned: ReadonlySet<Sym>): LStmt[] {
  const seen = new Map(outer);
  const stable = (e: LExpr) => ![...varsOf(e)].some((x) => assigned.has(x));
  // what a substituted constant allows folds (3 − ρ with ρ = 0 is 3)
  const rename = (e: LExpr) => substituteAll(e, renamed);
  const out: LStmt[] = [];
  for (const s0 of body) {
    // a statement's own expressions here; those of nested statements when the recursion gets there
    const s = ownExprs(s0, rename);
    switch (s.kind) {
      case 'let': {
        if (!s.mutable && (s.init.kind === 'var' || s.init.kind === 'const') && stable(s.init)) {
          renamed.set(s.v, s.init);
          continue;
        }
        if (!s.mutable && !hasLoad(s.init) && stable(s.init)) {
          const key = exprKey(s.init);
          const prev = seen.get(key);
          if (prev) {
            renamed.set(s.v, v(prev));
            continue;
          }
          seen.set(key, s.v);
        }
        out.push(s);
        break;
      }
      case 'for':
        out.push({ ...s, body: mergeLets(s.body, seen, renamed, assigned) });
        break;
      case 'if':
        out.push({ ...s, then: mergeLets(s.then, seen, renamed, assigned), else: mergeLets(s.else, seen, renamed, assigned) });
        break;
      case 'block':
        out.push({ ...s, body: mergeLets(s.body, seen, renamed, assigned) });
        break;
      default:
        out.push(s);
    }
  }
  return out;
}

export function hoistInvariants(k: Kernel): Kernel {
  const body = hoistList(k.body, false);
  const assigned = new Set<Sym>();
  walkStmts(body, (s) => void (s.kind === 'assign' && assigned.add(s.v)));
  return { ...k, body: mergeLets(body, new Map(), new Map(), assigned) };
}

/** Only the first step: each loop's non-trivial bounds computed once, just before it (the naive
 * nest of `optimize: false`, which recomputes everything else per element). */
export function hoistBounds(k: Kernel): Kernel {
  return { ...k, body: hoistList(k.body, true) };
}
