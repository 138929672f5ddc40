// simplify: fold constants, drop zero terms, collect like terms, cancel common factors, and expand
// a product of sums when that makes the expression smaller. The node constructors already fold the
// trivial cases (x·1, x+0, −−x, 2−1); these rules need a whole sum or quotient.
//
// Worked example (0/1-logistic loss, seed 001):
//   −(Yt·(σ(S)·(1−σ(S)))/σ(S) − (1−Yt)·(σ(S)·(1−σ(S)))/(1−σ(S)))
//   cancel σ(S), cancel (1−σ(S))    →  −(Yt·(1−σ(S)) − (1−Yt)·σ(S))
//   expand and collect (it shrinks)  →  σ(S) − Yt          — the seed's φ(s) − y
import { add, children, div, exprEquals, exprHash, exprKey, mapChildren, mul, neg, num } from '../ir/exprs.js';
import { printExpr } from '../ir/print.js';
import type { Expr, IndexExpr } from '../ir/types.js';
import { collectPowers } from './collectPowers.js';

/** Split a term into its numeric coefficient and the rest: −3·a·b → (−3, a·b). */
function coefficient(e: Expr): { coef: number; rest: Expr } {
  if (e.kind === 'num') return { coef: e.value, rest: num(1) };
  if (e.kind === 'neg') {
    const inner = coefficient(e.arg);
    return { coef: -inner.coef, rest: inner.rest };
  }
  if (e.kind === 'mul' && e.factors[0]?.kind === 'num') return { coef: e.factors[0].value, rest: mul(e.factors.slice(1)) };
  return { coef: 1, rest: e };
}

const factorsOf = (e: Expr): Expr[] => (e.kind === 'mul' ? [...e.factors] : e.kind === 'neg' ? [num(-1), ...factorsOf(e.arg)] : [e]);

function size(e: Expr): number {
  return 1 + children(e).reduce((a, c) => a + size(c), 0);
}

/** exprHash with the whole numbers of small index expressions mixed in: exprHash leaves index
 *  expressions out, so the 10 000 terms k·(i == p) of one gradient would hash alike and each need its
 *  key to be told apart. Alpha-equal expressions still hash alike (a renamed bound index changes no
 *  number). Looks at the first SALTED nodes only, in a fixed order, so equal trees mix in the same. */
function likeHash(e: Expr): number {
  let h = exprHash(e);
  let left = SALTED;
  const mixIndex = (ix: IndexExpr) => {
    h = Math.imul(h ^ (ix.terms.length * 0x9e3779b1 + (ix.constant.get('') ?? 0)), 0x01000193) >>> 0;
  };
  const visit = (x: Expr): void => {
    if (left-- <= 0) return;
    if (x.kind === 'index') mixIndex(x.expr);
    else if (x.kind === 'access') for (let i = 0; i < x.subs.length; i++) mixIndex(x.subs[i]!);
    else if (x.kind === 'delta') {
      mixIndex(x.a);
      mixIndex(x.b);
    } else {
      const cs = children(x);
      for (let i = 0; i < cs.length; i++) visit(cs[i]!);
    }
  };
  visit(e);
  return h;
}
const SALTED = 16;

/** Sum of monomials: coefficient × factors (an index-free denominator stays a factor 1/d). */
interface Monomial {
  coef: number;
  factors: Expr[];
}

function expand(e: Expr): Monomial[] | null {
  switch (e.kind) {
    case 'num':
      return [{ coef: e.value, factors: [] }];
    case 'neg':
      return expand(e.arg)?.map((m) => ({ coef: -m.coef, factors: m.factors })) ?? null;
    case 'add': {
      const parts = e.terms.map(expand);
      return parts.every((p) => p) ? parts.flat() as Monomial[] : null;
    }
    case 'mul': {
      let acc: Monomial[] = [{ coef: 1, factors: [] }];
      for (const f of e.factors) {
        const m = expand(f);
        if (!m) return null;
        acc = acc.flatMap((a) => m.map((b) => ({ coef: a.coef * b.coef, factors: [...a.factors, ...b.factors] })));
        if (acc.length > 64) return null;
      }
      return acc;
    }
    case 'div': {
      const top = expand(e.num);
      if (!top) return null;
      return top.map((m) => ({ coef: m.coef, factors: [...m.factors, div(num(1), e.den)] }));
    }
    default:
      return [{ coef: 1, factors: [e] }];
  }
}

/** Items grouped by `key`, in order of first appearance; `key` (which costs the size of what it keys)
 *  runs only on items whose cheap `hash` another item shares, and once an item: a bucket of many
 *  items with one hash (10 000 terms `k·(k == p)`, say) finds its group through a map of keys. */
function groupBy<T>(items: readonly T[], hash: (t: T) => string, key: (t: T) => string): T[][] {
  const buckets = new Map<string, { readonly first: T[]; byKey?: Map<string, T[]> }>();
  const groups: T[][] = [];
  for (const t of items) {
    const h = hash(t);
    const bucket = buckets.get(h);
    if (!bucket) {
      const g = [t];
      groups.push(g);
      buckets.set(h, { first: g });
      continue;
    }
    bucket.byKey ??= new Map([[key(bucket.first[0]!), bucket.first]]);
    const k = key(t);
    const same = bucket.byKey.get(k);
    if (same) same.push(t);
    else {
      const g = [t];
      groups.push(g);
      bucket.byKey.set(k, g);
    }
  }
  return groups;
}

function collectMonomials(ms: readonly Monomial[]): Expr {
  const groups = groupBy(
    ms,
    (m) => m.factors.map(likeHash).sort((a, b) => a - b).join(','),
    (m) => m.factors.map(exprKey).sort().join('·'),
  );
  const terms = groups.map((g) => ({ coef: g.reduce((a, m) => a + m.coef, 0), factors: g[0]!.factors })).filter((m) => m.coef !== 0);
  // positive terms first reads better: σ(S) − Yt rather than −Yt + σ(S)
  const sorted = [...terms.filter((m) => m.coef > 0), ...terms.filter((m) => m.coef <= 0)];
  return add(sorted.map((m) => mul([num(m.coef), ...m.factors])));
}

interface Rule {
  readonly name: string;
  readonly rewrite: (e: Expr) => Expr | undefined;
}

/** Rewrite rules, as data; each states its identity. */
const RULES: readonly Rule[] = [
  {
    // a·(b/c)·d → (a·b·d)/c  — divisions move outward, so (1/4)·dY prints as dY/4
    name: 'divide last',
    rewrite: (e) => {
      if (e.kind !== 'mul') return undefined;
      const i = e.factors.findIndex((f) => f.kind === 'div');
      if (i < 0) return undefined;
      const d = e.factors[i] as Extract<Expr, { kind: 'div' }>;
      return div(mul([...e.factors.slice(0, i), d.num, ...e.factors.slice(i + 1)]), d.den);
    },
  },
  {
    // (4·a)/2 → 2·a   (a whole quotient of two numbers)
    name: 'divide numbers',
    rewrite: (e) => {
      if (e.kind !== 'div' || e.den.kind !== 'num' || e.den.value === 0) return undefined;
      const { coef, rest } = coefficient(e.num);
      const q = coef / e.den.value;
      return coef !== 1 && Number.isInteger(q) ? mul([num(q), rest]) : undefined;
    },
  },
  {
    // (a·b)/a → b   (the quotient was 0/0 where a = 0, so nothing is lost)
    name: 'cancel common factors',
    rewrite: (e) => {
      if (e.kind !== 'div') return undefined;
      const top = factorsOf(e.num);
      const bottom = factorsOf(e.den);
      let changed = false;
      const rest = bottom.filter((b) => {
        if (b.kind === 'num') return true;
        const i = top.findIndex((t) => exprEquals(t, b));
        if (i < 0) return true;
        top.splice(i, 1);
        changed = true;
        return false;
      });
      return changed ? div(mul(top), mul(rest)) : undefined;
    },
  },
  {
    // (a/c)·(b/c)… and −(x/c) keep the sign outside: −(a/b) → (−a)/b is not needed; −(−a) is folded already
    name: 'collect like terms',
    rewrite: (e) => {
      // a·x + b·x → (a+b)·x ;  x − x → 0
      if (e.kind !== 'add') return undefined;
      const groups = groupBy(
        e.terms.map(coefficient),
        (t) => String(likeHash(t.rest)),
        (t) => exprKey(t.rest),
      );
      if (groups.length === e.terms.length) return undefined;
      return add(groups.map((g) => ({ coef: g.reduce((a, t) => a + t.coef, 0), rest: g[0]!.rest })).filter((x) => x.coef !== 0).map((x) => mul([num(x.coef), x.rest])));
    },
  },
  {
    // log(exp(x)) → x   (exact for every real x; exp(log(x)) is not: it needs x > 0)
    name: 'log of exp',
    rewrite: (e) => (e.kind === 'call' && e.fn === 'log' && e.args[0]?.kind === 'call' && e.args[0].fn === 'exp' ? e.args[0].args[0] : undefined),
  },
  // √v·v^(-1)·(1/2)·(−2) → −v^(-1/2): exponents of one base add, fractions multiply out (collectPowers.ts)
  { name: 'collect powers', rewrite: collectPowers },
];

/** Expand products of sums and collect, but only when the result is smaller. */
function expandIfSmaller(e: Expr): Expr {
  if (e.kind !== 'neg' && e.kind !== 'mul' && e.kind !== 'add') return e;
  const ms = expand(e);
  if (!ms) return e;
  const out = collectMonomials(ms);
  return size(out) < size(e) ? out : e;
}

/** Rules a derivation shows (the others only move divisions or fold like terms). */
const SHOWN = new Set(['cancel common factors', 'collect powers', 'log of exp']);

/** `settled`: nodes rewrite gave back unchanged (no rule fires in them), so a second pass skips
 *  them: simplify's last pass then walks only what expansion rebuilt, not all 10 000 terms again. */
function rewrite(e: Expr, settled: Set<Expr>, log?: (line: string) => void): Expr {
  if (settled.has(e)) return e;
  let out = mapChildren(e, (c) => rewrite(c, settled, log));
  for (let changed = true; changed; ) {
    changed = false;
    for (const r of RULES) {
      const next = r.rewrite(out);
      if (next !== undefined) {
        if (log && SHOWN.has(r.name)) log(`${r.name}: ${printExpr(out)} = ${printExpr(next)}`);
        out = next;
        changed = true;
      }
    }
  }
  // a rule never gives back its input (it would fire forever), so out === e means none fired here
  if (out === e) settled.add(e);
  return out;
}

const withBody = (r: Extract<Expr, { kind: 'reduce' }>, body: Expr): Expr => (body === r.body ? r : { ...r, body });

/** `log` hears of each simplification a reader would want to see (--steps). */
export function simplify(e: Expr, log?: (line: string) => void): Expr {
  const settled = new Set<Expr>();
  const once = rewrite(e, settled, log);
  // expansion applies to a whole gradient term (inside its sums), not to function arguments
  const expanded = once.kind === 'reduce' ? withBody(once, expandIfSmaller(once.body)) : expandIfSmaller(once);
  if (log && expanded !== once && exprKey(expanded) !== exprKey(once)) log(`expand and collect: ${printExpr(once)} = ${printExpr(expanded)}`);
  return rewrite(expanded, settled, log);
}

export { neg };
