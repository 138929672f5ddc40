// peelBorders: a loop whose body tests where its variable is against the tensor's edge (a padded
// convolution's clamped window, a pooling window's `inside` check) runs as three loops — the border
// before, the interior, the border after — and in the interior copy every such test is settled:
// comparisons are true, clamps are their constant side. What is left in the interior has constant
// window loops (unrollSmallLoops then unrolls them) and no branch, so the vectorizer can take it.
// Applied to WebAssembly kernels (JavaScript keeps its smaller text), before strengthReduce, while
// indices are still affine expressions of the loop variables.
//
// Worked example, the depthwise 3×3 convolution with padding 1 (the loop over w):
//   for w in [0, W) { acc = 0; for j in [max(0, 1 − w), min(3, W + 1 − w)) { acc += K[j]·X[w + j − 1] } … }
// has two tests of w: max(0, 1 − w) is 0 where w ≥ 1, min(3, W + 1 − w) is 3 where w ≤ W − 2, so
//   let $lo = min(max(0, 1), W); let $hi = max($lo, min(W, W − 2 + 1))
//   for w in [0, $lo) { …as before… }
//   for w in [$lo, $hi) { acc = 0; for j in [0, 3) { acc += K[j]·X[w + j − 1] } … }
//   for w in [$hi, W) { …as before… }
// A test qualifies when it compares (or clamps) an expression affine in the loop variable, with a
// constant nonzero coefficient, against values bound outside the loop. Only serial loops of step 1
// are peeled, at most MAX_DEPTH deep in one nest and only bodies up to MAX_BODY statements (each
// peel triples the text).
import { add, c, ceildiv, floordiv, isConst, let_, max, min, neg, refold, sub, substitute, sym, TRUE, v, varsOf } from '../loop/build.js';
import { mapExpr, mapStmtExprs, walkStmts } from '../loop/mapLoop.js';
import type { Kernel, LExpr, LStmt, Sym } from '../loop/types.js';
import { linearIn } from './strengthReduce.js';

type For = Extract<LStmt, { kind: 'for' }>;

const MAX_DEPTH = 2;
const MAX_BODY = 120;

/** Where a test is settled: a·x + r ≥ 0, and what it then is. */
interface Fact {
  readonly a: number;
  readonly r: LExpr;
  readonly value: LExpr;
}

/** Symbols bound or assigned anywhere in a statement list: they change inside the loop. */
function changing(body: readonly LStmt[]): Set<Sym> {
  const out = new Set<Sym>();
  walkStmts(body, (s) => {
    if (s.kind === 'let' || s.kind === 'for' || s.kind === 'assign') out.add(s.v);
  });
  return out;
}

/** The fact a test node states about x, if it is one. */
function factOf(e: LExpr, x: Sym, inner: ReadonlySet<Sym>): Fact | undefined {
  if (e.kind !== 'binary' || e.a.ty !== 'i32') return undefined;
  const free = (t: LExpr) => [...varsOf(t)].every((s) => s === x || !inner.has(s));
  if (!free(e)) return undefined;
  const lin = (t: LExpr) => {
    const l = linearIn(t, x);
    return l && l.coef.kind === 'const' ? { a: l.coef.value, r: l.rest } : undefined;
  };
  const d = lin(sub(e.a, e.b));
  if (!d) return undefined;
  switch (e.op) {
    case '>=':
      return d.a ? { a: d.a, r: d.r, value: TRUE } : undefined;
    case '>':
      return d.a ? { a: d.a, r: sub(d.r, c(1)), value: TRUE } : undefined;
    case '<=':
      return d.a ? { a: -d.a, r: neg(d.r), value: TRUE } : undefined;
    case '<':
      return d.a ? { a: -d.a, r: sub(neg(d.r), c(1)), value: TRUE } : undefined;
    case 'max':
    case 'min': {
      // the side free of x wins in the interior: max(p, q) = p where p − q ≥ 0, min(p, q) = p where q − p ≥ 0
      const [pa, qa] = [lin(e.a), lin(e.b)];
      if (!pa || !qa) return undefined;
      const sign = e.op === 'max' ? 1 : -1;
      if (pa.a === 0 && qa.a !== 0) return { a: -sign * qa.a, r: sign === 1 ? sub(e.a, qa.r) : sub(qa.r, e.a), value: e.a };
      if (qa.a === 0 && pa.a !== 0) return { a: sign * pa.a, r: sign === 1 ? sub(pa.r, e.b) : sub(e.b, pa.r), value: e.b };
      return undefined;
    }
    default:
      return undefined;
  }
}

/** e with each test settled (outermost first, so collecting and settling see the same nodes). */
function settle(e: LExpr, test: (e: LExpr) => Fact | undefined, found?: Fact[]): LExpr {
  const f = test(e);
  if (f) {
    found?.push(f);
    return f.value;
  }
  const go = (t: LExpr) => settle(t, test, found);
  switch (e.kind) {
    case 'load':
      return { ...e, index: go(e.index) };
    case 'unary':
      return refold({ ...e, a: go(e.a) });
    case 'binary':
      return refold({ ...e, a: go(e.a), b: go(e.b) });
    case 'select': {
      // a read guarded by a test that is now true: the guard was its range check (the WebAssembly
      // printer read it unguarded inside the select's arm; it does so now without the select)
      const cond = go(e.cond);
      if (isConst(cond, 1)) return mapExpr(go(e.then), (t) => (t.kind === 'load' ? { ...t, inBounds: true } : t));
      return refold({ ...e, cond, then: go(e.then), else: go(e.else) });
    }
    case 'call':
      return { ...e, args: e.args.map(go) };
    default:
      return e;
  }
}

/** A list with constant conditions decided and constant immutable lets substituted into their scope. */
function fold(list: readonly LStmt[]): LStmt[] {
  const out: LStmt[] = [];
  for (let i = 0; i < list.length; i++) {
    const s = list[i]!;
    if (s.kind === 'let' && !s.mutable && s.init.kind === 'const') {
      const rest = mapStmtExprs(list.slice(i + 1), (e) => substitute(e, s.v, s.init));
      return [...out, ...fold(rest)];
    }
    if (s.kind === 'if' && s.cond.kind === 'const') {
      out.push(...fold(s.cond.value ? s.then : s.else));
      continue;
    }
    if (s.kind === 'for') out.push({ ...s, body: fold(s.body) });
    else if (s.kind === 'if') out.push({ ...s, then: fold(s.then), else: fold(s.else) });
    else if (s.kind === 'block') out.push({ ...s, body: fold(s.body) });
    else out.push(s);
  }
  return out;
}

const size = (body: readonly LStmt[]) => {
  let n = 0;
  walkStmts(body, () => void n++);
  return n;
};

function peelLoop(loop: For, depth: number): LStmt[] {
  const inner = (): LStmt[] => [{ ...loop, body: peelList(loop.body, depth) }];
  if (depth >= MAX_DEPTH || loop.loop !== 'serial' || !isConst(loop.step, 1) || size(loop.body) > MAX_BODY) return inner();
  const x = loop.v;
  const moving = changing(loop.body);
  const test = (e: LExpr) => factOf(e, x, moving);
  const facts: Fact[] = [];
  const settled = fold(mapStmtExprs(loop.body, (e) => settle(e, test, facts)));
  if (!facts.length) return inner();
  // the interior [$lo, $hi): every fact a·x + r ≥ 0 holds there
  let lower = loop.lo;
  let upper = loop.hi;
  for (const f of facts) {
    if (f.a > 0) lower = max(lower, ceildiv(neg(f.r), c(f.a)));
    else upper = min(upper, add(floordiv(f.r, c(-f.a)), c(1)));
  }
  const lo = sym('$lo', 'i32');
  const hi = sym('$hi', 'i32');
  const part = (from: LExpr, to: LExpr, body: readonly LStmt[]): LStmt => ({ ...loop, lo: from, hi: to, body, nonEmpty: false });
  // the borders keep the loop's body as it was (they are a few rows: peeling inside them would only grow the text)
  return [let_(lo, min(lower, loop.hi)), let_(hi, max(v(lo), upper)), part(loop.lo, v(lo), loop.body), part(v(lo), v(hi), peelList(settled, depth + 1)), part(v(hi), loop.hi, loop.body)];
}

function peelList(body: readonly LStmt[], depth: number): LStmt[] {
  return body.flatMap((s): LStmt[] => {
    switch (s.kind) {
      case 'for':
        return peelLoop(s, depth);
      case 'if':
        return [{ ...s, then: peelList(s.then, depth), else: peelList(s.else, depth) }];
      case 'block':
        return [{ ...s, body: peelList(s.body, depth) }];
      default:
        return [s];
    }
  });
}

export function peelBorders(k: Kernel): Kernel {
  if (k.runs !== 'wasm') return k;
  return { ...k, body: peelList(k.body, 0) };
}
