// Constructors and generic traversals for Expr. Constructors fold the trivial cases
// (mul(0,x) → 0, mul(1,x) → x, add(x,0) → x, --x → x) so passes never build junk.
//
// Worked example: mul([num 1, access A[i,k], mul([num 2, access dY[i,j]])]) builds
//   mul([num 2, A[i,k], dY[i,j]])   — flattened, the 1 dropped, the constant moved to the front.
import { forEachVar, idxKey, idxKeyRenamed, idxRename, idxSubstitute, idxVars } from './affine.js';
import { sizeKey } from './sizes.js';
import { assertNever, type Bound, type Builtin, type CompareOp, type Expr, type IndexExpr, type ReduceOp } from './types.js';

export const num = (value: number): Expr => ({ kind: 'num', value: Object.is(value, -0) ? 0 : value });
export const ZERO = num(0);
export const ONE = num(1);
export const access = (tensor: string, subs: readonly IndexExpr[]): Expr => ({ kind: 'access', tensor, subs });
export const isNum = (e: Expr, v?: number): e is { kind: 'num'; value: number } => e.kind === 'num' && (v === undefined || e.value === v);

export function neg(arg: Expr): Expr {
  if (arg.kind === 'num') return num(-arg.value);
  if (arg.kind === 'neg') return arg.arg;
  if (arg.kind === 'mul' && arg.factors[0]?.kind === 'num') return mul([num(-arg.factors[0].value), ...arg.factors.slice(1)]);
  return { kind: 'neg', arg };
}

export function add(terms: readonly Expr[]): Expr {
  const flat: Expr[] = [];
  // indexed loops (here and in hashOf): no iterator objects while the code still runs cold
  for (let i = 0; i < terms.length; i++) {
    const t = terms[i]!;
    // one by one: push(...terms) passes every term as an argument, past the stack at ~120 000 terms
    if (t.kind === 'add') for (let j = 0; j < t.terms.length; j++) flat.push(t.terms[j]!);
    else flat.push(t);
  }
  // Numbers fold into one, kept where the first number stood: 1 - y stays 1 - y.
  let constant = 0;
  let at = -1;
  const rest: Expr[] = [];
  for (let i = 0; i < flat.length; i++) {
    const t = flat[i]!;
    if (t.kind === 'num') {
      constant += t.value;
      if (at < 0) at = rest.length;
    } else rest.push(t);
  }
  if (constant !== 0) rest.splice(at, 0, num(constant));
  if (rest.length === 0) return ZERO;
  if (rest.length === 1) return rest[0]!;
  return { kind: 'add', terms: rest };
}

/** Flatten f into rest, threading the coefficient through in order (numbers multiply in the order
 *  they stand, so rounding is that of one pass left to right); a function, not a closure per call. */
function gatherFactor(f: Expr, rest: Expr[], coef: number): number {
  if (f.kind === 'mul') {
    for (let i = 0; i < f.factors.length; i++) coef = gatherFactor(f.factors[i]!, rest, coef);
    return coef;
  }
  if (f.kind === 'num') return coef * f.value;
  if (f.kind === 'neg') return gatherFactor(f.arg, rest, -coef);
  rest.push(f);
  return coef;
}

export function mul(factors: readonly Expr[]): Expr {
  let coef = 1;
  const rest: Expr[] = [];
  for (let i = 0; i < factors.length; i++) coef = gatherFactor(factors[i]!, rest, coef);
  if (coef === 0) return ZERO;
  if (rest.length === 0) return num(coef);
  if (coef === 1) return rest.length === 1 ? rest[0]! : { kind: 'mul', factors: rest };
  if (coef === -1) return { kind: 'neg', arg: rest.length === 1 ? rest[0]! : { kind: 'mul', factors: rest } };
  // the coefficient put in front in place, not spread into a copy (a spread iterates, and this runs
  // cold for every term of a CLI's one derivation)
  rest.unshift(num(coef));
  return { kind: 'mul', factors: rest };
}


export function div(a: Expr, b: Expr): Expr {
  if (isNum(b, 1)) return a;
  if (isNum(a, 0)) return ZERO;
  if (a.kind === 'num' && b.kind === 'num' && b.value !== 0 && Number.isInteger(a.value / b.value)) return num(a.value / b.value);
  if (b.kind === 'num' && b.value === -1) return neg(a);
  if (a.kind === 'neg') return neg(div(a.arg, b));
  return { kind: 'div', num: a, den: b };
}

export function pow(base: Expr, exp: Expr): Expr {
  if (isNum(exp, 1)) return base;
  if (isNum(exp, 0)) return ONE;
  if (base.kind === 'num' && exp.kind === 'num') return num(base.value ** exp.value);
  return { kind: 'pow', base, exp };
}

export const sub = (a: Expr, b: Expr): Expr => add([a, neg(b)]);
const FLIP: Record<CompareOp, CompareOp> = { '>': '<', '<': '>', '>=': '<=', '<=': '>=', '==': '==', '!=': '!=' };
/** Comparisons keep the number on the right: 0 < m is built as m > 0. */
export const compare = (op: CompareOp, a: Expr, b: Expr): Expr =>
  a.kind === 'num' && b.kind !== 'num' ? { kind: 'compare', op: FLIP[op], a: b, b: a } : { kind: 'compare', op, a, b };
export const call = (fn: Builtin, args: readonly Expr[]): Expr => ({ kind: 'call', fn, args });
export const reduce = (op: ReduceOp, indices: readonly Bound[], body: Expr): Expr =>
  indices.length === 0 ? body : op === 'sum' && isNum(body, 0) ? ZERO : { kind: 'reduce', op, indices, body };

/** f over a list, the same list when f changed nothing: a pass over a large unchanged tree then
 *  allocates nothing (mapChildren runs at every node of every pass). */
function mapList(xs: readonly Expr[], f: (c: Expr) => Expr): readonly Expr[] {
  let out: Expr[] | undefined;
  for (let i = 0; i < xs.length; i++) {
    const y = f(xs[i]!);
    if (out) out.push(y);
    else if (y !== xs[i]) {
      out = xs.slice(0, i);
      out.push(y);
    }
  }
  return out ?? xs;
}

/** Rebuild a node from new children (constructors re-fold); returns the same object when nothing changed. */
export function mapChildren(e: Expr, f: (c: Expr) => Expr): Expr {
  switch (e.kind) {
    case 'num':
    case 'sizeval':
    case 'index':
    case 'access':
    case 'delta':
      return e;
    case 'add': {
      const t = mapList(e.terms, f);
      return t === e.terms ? e : add(t);
    }
    case 'mul': {
      const t = mapList(e.factors, f);
      return t === e.factors ? e : mul(t);
    }
    case 'div': {
      const a = f(e.num);
      const b = f(e.den);
      return a === e.num && b === e.den ? e : div(a, b);
    }
    case 'pow': {
      const a = f(e.base);
      const b = f(e.exp);
      return a === e.base && b === e.exp ? e : pow(a, b);
    }
    case 'neg': {
      const a = f(e.arg);
      return a === e.arg ? e : neg(a);
    }
    case 'compare': {
      const a = f(e.a);
      const b = f(e.b);
      return a === e.a && b === e.b ? e : compare(e.op, a, b);
    }
    case 'call': {
      const t = mapList(e.args, f);
      return t === e.args ? e : call(e.fn, t);
    }
    case 'reduce': {
      const b = f(e.body);
      return b === e.body ? e : reduce(e.op, e.indices, b);
    }
    case 'argmax':
    case 'matfn': {
      const b = f(e.body);
      return b === e.body ? e : { ...e, body: b };
    }
    default:
      return assertNever(e);
  }
}

export function children(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'num':
    case 'sizeval':
    case 'index':
    case 'access':
    case 'delta':
      return [];
    case 'add':
      return e.terms;
    case 'mul':
      return e.factors;
    case 'div':
      return [e.num, e.den];
    case 'pow':
      return [e.base, e.exp];
    case 'neg':
      return [e.arg];
    case 'compare':
      return [e.a, e.b];
    case 'call':
      return e.args;
    case 'reduce':
    case 'argmax':
    case 'matfn':
      return [e.body];
    default:
      return assertNever(e);
  }
}

/** Apply an index-expression rewrite to every subscript, index value, argmax position and δ. */
export function mapIndices(e: Expr, f: (x: IndexExpr) => IndexExpr): Expr {
  // a node whose index expressions f returns unchanged is kept, so its parents are too; one closure
  // for the walk, not one a node
  const go = (x: Expr): Expr => {
    switch (x.kind) {
      case 'index': {
        const ix = f(x.expr);
        return ix === x.expr ? x : { kind: 'index', expr: ix };
      }
      case 'access': {
        const subs = x.subs.map(f);
        return subs.every((s, k) => s === x.subs[k]) ? x : access(x.tensor, subs);
      }
      case 'delta': {
        const a = f(x.a);
        const b = f(x.b);
        return a === x.a && b === x.b ? x : { kind: 'delta', a, b };
      }
      case 'argmax':
      case 'matfn': {
        const at = x.at.map(f);
        const body = go(x.body);
        return body === x.body && at.every((s, k) => s === x.at[k]) ? x : { ...x, at, body };
      }
      default:
        return mapChildren(x, go);
    }
  };
  return go(e);
}

export const substituteIndex = (e: Expr, name: string, by: IndexExpr): Expr => mapIndices(e, (x) => idxSubstitute(x, name, by));
export const renameIndices = (e: Expr, map: ReadonlyMap<string, string>): Expr =>
  map.size === 0
    ? e
    : renameBound(
        mapIndices(e, (x) => idxRename(x, map)),
        map,
      );

function renameBound(e: Expr, map: ReadonlyMap<string, string>): Expr {
  const rb = (b: Bound): Bound => ({ name: map.get(b.name) ?? b.name, extent: b.extent });
  switch (e.kind) {
    case 'reduce':
      return { ...e, indices: e.indices.map(rb), body: renameBound(e.body, map) };
    case 'argmax':
    case 'matfn':
      return { ...e, indices: e.indices.map(rb), body: renameBound(e.body, map) };
    default:
      return mapChildren(e, (c) => renameBound(c, map));
  }
}

/** Index variables that occur free (not bound by a reduction inside e). */
/** the bound names outside any binder (shared: a set is a hash table, allocated per call otherwise) */
const NO_BOUND: ReadonlySet<string> = new Set();

export function freeIndices(e: Expr): string[] {
  const out = new Set<string>();
  // the names bound around the node being walked; one closure for the walk and one for the names,
  // not a closure a node (this runs on every factor hoistFactors and renderMatrix look at)
  let bound: ReadonlySet<string> = NO_BOUND;
  const addVar = (v: string) => {
    if (!bound.has(v)) out.add(v);
  };
  const addAll = (ix: IndexExpr) => forEachVar(ix, addVar);
  const within = (indices: readonly Bound[], body: Expr) => {
    const outer = bound;
    const inner = new Set(outer);
    for (let i = 0; i < indices.length; i++) inner.add(indices[i]!.name);
    bound = inner;
    walk(body);
    bound = outer;
  };
  const walk = (x: Expr): void => {
    switch (x.kind) {
      case 'index':
        addAll(x.expr);
        return;
      case 'access':
        for (let i = 0; i < x.subs.length; i++) addAll(x.subs[i]!);
        return;
      case 'delta':
        addAll(x.a);
        addAll(x.b);
        return;
      case 'reduce':
        within(x.indices, x.body);
        return;
      case 'argmax':
      case 'matfn':
        for (let i = 0; i < x.at.length; i++) addAll(x.at[i]!);
        within(x.indices, x.body);
        return;
      default: {
        const cs = children(x);
        for (let i = 0; i < cs.length; i++) walk(cs[i]!);
      }
    }
  };
  walk(e);
  return [...out];
}

/** Every index name used anywhere, bound or free. */
export function allIndexNames(e: Expr): string[] {
  const out = new Set<string>();
  const walk = (x: Expr) => {
    switch (x.kind) {
      case 'index':
        idxVars(x.expr).forEach((v) => out.add(v));
        return;
      case 'access':
        x.subs.forEach((s) => idxVars(s).forEach((v) => out.add(v)));
        return;
      case 'delta':
        [...idxVars(x.a), ...idxVars(x.b)].forEach((v) => out.add(v));
        return;
      case 'reduce':
        x.indices.forEach((b) => out.add(b.name));
        walk(x.body);
        return;
      case 'argmax':
      case 'matfn':
        x.indices.forEach((b) => out.add(b.name));
        x.at.forEach((s) => idxVars(s).forEach((v) => out.add(v)));
        walk(x.body);
        return;
      default:
        children(x).forEach(walk);
    }
  };
  walk(e);
  return [...out];
}

/** Tensors read anywhere in e. */
export function tensorsRead(e: Expr): string[] {
  const out = new Set<string>();
  const walk = (x: Expr) => {
    if (x.kind === 'access') out.add(x.tensor);
    children(x).forEach(walk);
  };
  walk(e);
  return [...out];
}

/** Keys of large expressions already keyed: expressions are immutable, and the differentiator keys
 *  the same statement (10 000 terms, say) once per gradient term. Small keys are cheaper to recompute. */
const KEYS = new WeakMap<Expr, string>();

/** Structural key, equal for alpha-equivalent expressions (bound names are numbered by position). */
export function exprKey(e: Expr): string {
  const known = KEYS.get(e);
  if (known !== undefined) return known;
  const key = computeKey(e);
  if (key.length > 256) KEYS.set(e, key);
  return key;
}

/** no renaming (keyOf only reads it, and copies it under a binder): one shared, not a map per key */
const NO_RENAMING: ReadonlyMap<string, string> = new Map();

function computeKey(e: Expr, free?: ReadonlyMap<string, string>): string {
  const counter = { next: 0 };
  return keyOf(e, free ?? NO_RENAMING, counter);
}

/** The key of e with its free indices renamed by `free` (one-to-one, onto names e does not use):
 *  `exprKey(renameIndices(e, free))`, without building the renamed copy. */
export const exprKeyRenamed = (e: Expr, free: ReadonlyMap<string, string>): string => (free.size === 0 ? exprKey(e) : computeKey(e, free));

const indexKeyIn = (ix: IndexExpr, env: ReadonlyMap<string, string>): string => (env.size ? idxKeyRenamed(ix, env) : idxKey(ix));

function keyOf(x: Expr, env: ReadonlyMap<string, string>, counter: { next: number }): string {
  switch (x.kind) {
    case 'num':
      return `#${x.value}`;
    case 'sizeval':
      return `size(${sizeKey(x.size)})`;
    case 'index':
      return `idx(${indexKeyIn(x.expr, env)})`;
    case 'access':
      return `${x.tensor}[${x.subs.map((s) => indexKeyIn(s, env)).join(',')}]`;
    case 'delta':
      return `δ(${indexKeyIn(x.a, env)},${indexKeyIn(x.b, env)})`;
    case 'add':
      return `+(${x.terms.map((t) => keyOf(t, env, counter)).join(',')})`;
    case 'mul':
      return `*(${x.factors.map((t) => keyOf(t, env, counter)).join(',')})`;
    case 'div':
      return `/(${keyOf(x.num, env, counter)},${keyOf(x.den, env, counter)})`;
    case 'pow':
      return `^(${keyOf(x.base, env, counter)},${keyOf(x.exp, env, counter)})`;
    case 'neg':
      return `-(${keyOf(x.arg, env, counter)})`;
    case 'compare':
      return `${x.op}(${keyOf(x.a, env, counter)},${keyOf(x.b, env, counter)})`;
    case 'call':
      return `${x.fn}(${x.args.map((t) => keyOf(t, env, counter)).join(',')})`;
    case 'reduce':
    case 'argmax':
    case 'matfn': {
      const inner = new Map(env);
      const heads = x.indices.map((b) => {
        const c = `$${counter.next++}`;
        inner.set(b.name, c);
        return `${c}:${sizeKey(b.extent)}`;
      });
      const at = x.kind !== 'reduce' ? `@${x.at.map((s) => indexKeyIn(s, env)).join(',')}` : '';
      return `${x.kind === 'reduce' ? x.op : x.kind === 'matfn' ? x.fn : `arg${x.op}`}(${heads.join(',')}${at}){${keyOf(x.body, inner, counter)}}`;
    }
    default:
      return assertNever(x);
  }
}

/** Hashes of expressions already hashed (each is the hash of its children's hashes: O(1) a node),
 *  kept for expressions of HASH_KEPT nodes or more: a weak map's every entry costs each minor
 *  garbage collection a look (one entry a node made derive of an 800-layer chain spend half its
 *  time collecting), and a smaller expression is quicker hashed again than looked up. */
const HASHES = new WeakMap<Expr, number>();
const HASH_KEPT = 32;
/** the number of nodes the last hashOf walked (a kept expression counts as HASH_KEPT) */
let walked = 0;

const mix = (h: number, v: number): number => Math.imul(h ^ v, 0x01000193) >>> 0;
function hashText(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = mix(h, s.charCodeAt(i));
  return mix(h, 0xff);
}

/** A structural hash that leaves index expressions out, so alpha-equal expressions hash alike: two
 *  expressions with different hashes differ, and only a match needs their keys. A key costs the size
 *  of its expression at every node it is asked of (a deep chain costs size × depth); a hash is kept. */
export function exprHash(e: Expr): number {
  return hashOf(e);
}

function hashOf(e: Expr): number {
  const known = HASHES.get(e);
  if (known !== undefined) {
    walked = HASH_KEPT;
    return known;
  }
  let h = hashText(0x811c9dc5, e.kind);
  switch (e.kind) {
    case 'num':
      h = hashText(h, String(e.value));
      break;
    case 'sizeval':
      h = hashText(h, sizeKey(e.size));
      break;
    case 'access':
      h = mix(hashText(h, e.tensor), e.subs.length);
      break;
    case 'compare':
      h = hashText(h, e.op);
      break;
    case 'call':
      h = hashText(h, e.fn);
      break;
    case 'reduce':
    case 'argmax':
      h = hashText(h, e.op);
      for (const b of e.indices) h = hashText(h, sizeKey(b.extent));
      break;
    case 'matfn':
      h = hashText(h, e.fn);
      for (const b of e.indices) h = hashText(h, sizeKey(b.extent));
      break;
    case 'index':
    case 'delta':
    case 'add':
    case 'mul':
    case 'div':
    case 'pow':
    case 'neg':
      break;
    default:
      return assertNever(e);
  }
  let n = 1;
  // indexed: a for-of allocates an iterator and a result a step until the JIT optimizes it, and
  // hashing runs cold on a CLI's one call
  const cs = children(e);
  for (let i = 0; i < cs.length; i++) {
    h = mix(h, hashOf(cs[i]!));
    n += walked;
  }
  if (n >= HASH_KEPT) {
    HASHES.set(e, h);
    n = HASH_KEPT;
  }
  walked = n;
  return h;
}

export const exprEquals = (a: Expr, b: Expr): boolean => a === b || (exprHash(a) === exprHash(b) && exprKey(a) === exprKey(b));

/** Replace every subexpression alpha-equal to `pattern` by `by`. */
export function replaceExpr(e: Expr, pattern: Expr, by: Expr): Expr {
  // the pattern's hash and key once, not at every node whose hash matches
  const hash = exprHash(pattern);
  let key: string | undefined;
  // a node of another kind has another key: not hashed (a hash walks a small subtree again at every node)
  const same = (x: Expr) => x === pattern || (x.kind === pattern.kind && exprHash(x) === hash && exprKey(x) === (key ??= exprKey(pattern)));
  const go = (x: Expr): Expr => (same(x) ? by : mapChildren(x, go));
  return go(e);
}
