// tidyMatrix: rewrites of a finished matrix expression that a reader would do by hand, as rules over
// the tree, applied bottom-up: a square root of a vector's inner product with itself is its norm, and
// a quotient of scalar products has its like factors merged and its common ones cancelled.
//
// Worked example: cosine similarity's dx has the scalar
//   sqrt(yᵀ·y)·(xᵀ·y)/(sqrt(xᵀ·x)·(sqrt(xᵀ·x)·sqrt(yᵀ·y))²)
// where sqrt(yᵀ·y) is ‖y‖; the denominator is ‖x‖·‖x‖²·‖y‖² = ‖x‖³·‖y‖², one ‖y‖ cancels:
//   (xᵀ·y)/(‖x‖³·‖y‖)
import type { M } from './matrixText.js';

/** A structural key for each node, as a small number: a node's key is interned from its own fields
 * with its children's numbers in place of the children, so keying a tree costs its size once, not
 * its size per level (JSON of every subtree made 120 nested quotients quadratic). The numbers hold
 * within one tidyMatrix call (`interned`, set there). */
let interned: { readonly table: Map<string, number>; readonly ids: WeakMap<M, number> } | undefined;
const isNode = (v: unknown): v is M => typeof v === 'object' && v !== null && !Array.isArray(v) && 'k' in v;
function key(m: M): number {
  const ctx = interned!;
  const known = ctx.ids.get(m);
  if (known !== undefined) return known;
  const text = JSON.stringify(m, (field, v: unknown) => (field !== '' && isNode(v) ? `#${key(v)}` : v));
  let id = ctx.table.get(text);
  if (id === undefined) ctx.table.set(text, (id = ctx.table.size));
  ctx.ids.set(m, id);
  return id;
}

/** sqrt(aᵀ·a) and sqrt(1ᵀ·a²) → ‖a‖ */
function norm(m: M): M | null {
  if (m.k !== 'fn' || m.fn !== 'sqrt' || m.args.length !== 1) return null;
  const a = m.args[0]!;
  if (a.k !== 'matmul' || a.factors.length !== 2) return null;
  const [l, r] = a.factors as [M, M];
  if (l.k === 't' && key(l.a) === key(r) && l.a.k !== 'ones') return { k: 'norm', a: r };
  if (l.k === 't' && l.a.k === 'ones' && r.k === 'pow' && r.p === 2) return { k: 'norm', a: r.a };
  return null;
}

/** a product's factors with their exponents: (a·b)²·a → a³·b² (numbers kept apart, each its own) */
function powers(m: M, e: number, out: { m: M; e: number }[], nums: M[]): void {
  if (m.k === 'scale') for (const f of m.factors) powers(f, e, out, nums);
  else if (m.k === 'pow' && Number.isInteger(m.p) && m.p > 0) powers(m.a, e * m.p, out, nums);
  else if (m.k === 'num') nums.push(Math.abs(e) === 1 ? m : { k: 'pow', a: m, p: Math.abs(e) });
  else {
    const k = key(m);
    const at = out.find((x) => key(x.m) === k);
    if (at) at.e += e;
    else out.push({ m, e });
  }
}

/** a/b with b a scalar product: like factors merged, common ones cancelled; null when nothing changes */
function cancel(m: M): M | null {
  if (m.k !== 'div') return null;
  const fs: { m: M; e: number }[] = [];
  const top: M[] = [];
  const bottom: M[] = [];
  // the denominator first: its factors keep their order (‖x‖³·‖y‖, not ‖y‖·‖x‖³)
  powers(m.b, -1, fs, bottom);
  powers(m.a, 1, fs, top);
  const leaves = (x: M): number => (x.k === 'scale' ? x.factors.reduce((s, f) => s + leaves(f), 0) : x.k === 'pow' && Number.isInteger(x.p) && x.p > 0 ? leaves(x.a) : 1);
  if (fs.length + top.length + bottom.length === leaves(m.a) + leaves(m.b)) return null;
  const power = (x: { m: M; e: number }): M => (Math.abs(x.e) === 1 ? x.m : { k: 'pow', a: x.m, p: Math.abs(x.e) });
  // a lone matrix product stays a factor of its own, parenthesised: (xᵀ·y)/‖x‖
  const prod = (ms: M[]): M | null => (ms.length === 0 ? null : ms.length === 1 && ms[0]!.k !== 'matmul' ? ms[0]! : { k: 'scale', factors: ms });
  const num = prod([...top, ...fs.filter((x) => x.e > 0).map(power)]) ?? { k: 'num', value: 1 };
  const den = prod([...bottom, ...fs.filter((x) => x.e < 0).map(power)]);
  return den ? { k: 'div', a: num, b: den } : num;
}

const RULES: readonly { readonly name: string; readonly apply: (m: M) => M | null }[] = [
  { name: 'a vector norm: sqrt(aᵀ·a) is ‖a‖', apply: norm },
  { name: 'a quotient of products: like factors merged, common ones cancelled', apply: cancel },
];

/** Every rule, bottom-up: children first, then the node until no rule applies. */
export function tidyMatrix(m: M): M {
  if (interned) return tidy(m);
  interned = { table: new Map(), ids: new WeakMap() };
  try {
    return tidy(m);
  } finally {
    interned = undefined;
  }
}

function tidy(m: M): M {
  const kids = mapKids(m, tidy);
  for (const r of RULES) {
    const out = r.apply(kids);
    if (out) return tidy(out);
  }
  return kids;
}

function mapKids(m: M, f: (m: M) => M): M {
  switch (m.k) {
    case 'name':
    case 'ones':
    case 'num':
    case 'size':
    case 'eye':
      return m;
    case 't':
    case 'inv':
    case 'norm':
    case 'pow':
    case 'kron':
      return { ...m, a: f(m.a) };
    case 'matmul':
    case 'had':
    case 'scale':
      return { ...m, factors: m.factors.map(f) };
    case 'add':
      return { ...m, terms: m.terms.map((t) => ({ neg: t.neg, m: f(t.m) })) };
    case 'div':
    case 'hdiv':
    case 'cmp':
    case 'otimes':
      return { ...m, a: f(m.a), b: f(m.b) };
    case 'fn':
      return { ...m, args: m.args.map(f) };
  }
}
