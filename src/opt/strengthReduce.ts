// strengthReduce: running offsets. An index that is affine in a loop's variable becomes a pointer set
// before the loop and advanced by a constant step each iteration — no multiplication per element.
//
// Worked example: for h … { for w … { store(Y, n*S0 + h*W + w, load(X, (h*T + i)*W + w*T)) } }
// gives, processing the inner loop first,
//   for h … { let $p = n*S0 + h*W; let $q = (h*T + i)*W;             ← affine in h in turn
//             for w … { store(Y, $p, load(X, $q)); $p += 1; $q += T } }
// and then the loop over h turns those two lets into pointers of its own:
//   let $p2 = n*S0; let $q2 = i*W; for h … { let $p = $p2; let $q = $q2; for w … { … } $p2 += W; $q2 += T*W }
// Candidates are the indices of loads and stores and the inits of integer lets whose variables are
// all bound outside the loop, except the loop's own; an index that is the loop variable plus a
// constant is left as it is (it already costs one add).
//
// In a WebAssembly kernel, indices that differ only by a constant share one pointer, set at the
// smallest of them: a 2×2 window's X[(2u)·W + 2v] and X[(2u)·W + 2v + 1] become X[$p] and
// X[$p + 1] — the + 1 folds into the load's offset (no second pointer to advance), and the
// vectorizer sees that the two columns are neighbours (one pair of vector loads, even and odd lanes).
import { add, assign, c, isConst, let_, mul, neg, peelConstant, readsMemory, sub, substitute, sym, v, varsOf } from '../loop/build.js';
import { exprKey, mapStmtExprs } from '../loop/mapLoop.js';
import { assertNever, type Kernel, type LExpr, type LStmt, type Sym } from '../loop/types.js';

interface Linear {
  readonly coef: LExpr;
  readonly rest: LExpr;
}

/** e = coef·x + rest with coef and rest free of x; undefined when x enters otherwise (x·x, ⌊x/2⌋, a load). */
export function linearIn(e: LExpr, x: Sym): Linear | undefined {
  const zero = c(0);
  switch (e.kind) {
    case 'const':
    case 'length':
      return { coef: zero, rest: e };
    case 'var':
      return e.v === x ? { coef: c(1), rest: zero } : { coef: zero, rest: e };
    case 'unary':
      if (e.op === 'neg' && e.ty === 'i32') {
        const a = linearIn(e.a, x);
        return a && { coef: neg(a.coef), rest: neg(a.rest) };
      }
      return mentions(e, x) ? undefined : { coef: zero, rest: e };
    case 'binary': {
      if (e.ty !== 'i32' || !(e.op === '+' || e.op === '-' || e.op === '*')) return mentions(e, x) ? undefined : { coef: zero, rest: e };
      const a = linearIn(e.a, x);
      const b = linearIn(e.b, x);
      if (!a || !b) return undefined;
      if (e.op === '+') return { coef: add(a.coef, b.coef), rest: add(a.rest, b.rest) };
      if (e.op === '-') return { coef: sub(a.coef, b.coef), rest: sub(a.rest, b.rest) };
      if (isConst(a.coef, 0)) return { coef: mul(a.rest, b.coef), rest: mul(a.rest, b.rest) };
      if (isConst(b.coef, 0)) return { coef: mul(a.coef, b.rest), rest: mul(a.rest, b.rest) };
      return undefined;
    }
    case 'load':
    case 'select':
    case 'call':
    case 'claim':
      return mentions(e, x) ? undefined : { coef: zero, rest: e };
    default:
      return assertNever(e);
  }
}

const mentions = (e: LExpr, x: Sym) => varsOf(e).has(x);

/** Symbols bound anywhere in a statement list (lets, loop variables). */
function boundIn(body: readonly LStmt[], out = new Set<Sym>()): Set<Sym> {
  for (const s of body) {
    if (s.kind === 'let') out.add(s.v);
    if (s.kind === 'for') {
      out.add(s.v);
      boundIn(s.body, out);
    } else if (s.kind === 'if') {
      boundIn(s.then, out);
      boundIn(s.else, out);
    } else if (s.kind === 'block') boundIn(s.body, out);
  }
  return out;
}

function reduceLoop(loop: Extract<LStmt, { kind: 'for' }>, share: boolean): LStmt[] {
  const x = loop.v;
  const inside = boundIn(loop.body);
  // `at`: the index the pointer stands for (its base plus k when indices share one)
  const pointers = new Map<string, { p: Sym; k: number; step: LExpr; at: LExpr }>();
  const before: LStmt[] = [];
  /** the index as the key of its pointer and its offset from that key's base */
  const split = (e: LExpr): { key: string; base: LExpr; k: number } => {
    if (!share) return { key: exprKey(e), base: e, k: 0 };
    const { base, k } = peelConstant(e);
    return { key: exprKey(base), base, k };
  };
  /** what the loop's pointer would stand for: the index, linear in x, with its coefficient */
  const linearIndex = (e: LExpr): Linear | undefined => {
    if (e.ty !== 'i32' || e.kind === 'const' || e.kind === 'var') return undefined;
    const vars = varsOf(e);
    if (!vars.has(x) || [...vars].some((s) => s !== x && inside.has(s))) return undefined;
    const lin = linearIn(e, x);
    if (!lin || isConst(lin.coef, 0)) return undefined;
    // x + k costs what p costs
    if (isConst(lin.coef, 1) && lin.rest.kind === 'const') return undefined;
    if (readsMemory(e)) return undefined;
    return lin;
  };
  // the smallest offset of each shared base: its pointer starts there, so the others are p + k, k ≥ 0
  const lowest = new Map<string, number>();
  const survey = (e: LExpr): LExpr => {
    if (linearIndex(e)) {
      const { key, k } = split(e);
      lowest.set(key, Math.min(k, lowest.get(key) ?? k));
    }
    return e;
  };
  const candidate = (e: LExpr): LExpr => {
    const lin = linearIndex(e);
    if (!lin) return e;
    const { key, base, k } = split(e);
    let ptr = pointers.get(key);
    // a constant away from a pointer made already (dX[2q] and dX[2q + 1]): that pointer plus the constant
    if (!ptr)
      for (const other of pointers.values()) {
        const k = constantDifference(e, other.at);
        if (k !== undefined && Math.abs(k) <= MAX_OFFSET) return add(v(other.p), c(k));
      }
    if (!ptr) {
      const p = sym('$p', 'i32');
      let step = mul(lin.coef, loop.step);
      if (step.kind !== 'const' && step.kind !== 'var') {
        const s = sym('$step', 'i32');
        before.push(let_(s, step));
        step = v(s);
      }
      const k0 = share ? lowest.get(key)! : 0;
      before.push(let_(p, substitute(share ? add(base, c(k0)) : e, x, loop.lo), true));
      ptr = { p, k: k0, step, at: share ? add(base, c(k0)) : e };
      pointers.set(key, ptr);
    }
    return add(v(ptr.p), c(k - ptr.k));
  };
  // indices of loads and stores, and integer lets, at any depth of the body — `linearIndex` skips
  // what an inner loop binds
  const rewrite = (body: readonly LStmt[], f: (e: LExpr) => LExpr): readonly LStmt[] =>
    body.map((s): LStmt => {
      switch (s.kind) {
        case 'let':
          return s.v.ty === 'i32' ? { ...s, init: f(s.init) } : { ...s, init: mapIndices(s.init, f) };
        case 'store':
          return { ...s, index: f(s.index), value: mapIndices(s.value, f) };
        case 'for':
          return { ...s, body: rewrite(s.body, f) };
        case 'if':
          return { ...s, cond: mapIndices(s.cond, f), then: rewrite(s.then, f), else: rewrite(s.else, f) };
        case 'block':
          return { ...s, body: rewrite(s.body, f) };
        default:
          return mapStmtExprs([s], (e) => mapIndices(e, f))[0]!;
      }
    });
  if (share) rewrite(loop.body, survey);
  const body = rewrite(loop.body, candidate);
  if (pointers.size === 0) return [loop];
  const advances = [...pointers.values()].map((ptr) => assign(ptr.p, add(v(ptr.p), ptr.step)));
  return [...before, { ...loop, body: [...body, ...advances] }];
}

/** Offsets a shared pointer takes (a WebAssembly load or store folds a small one into its address). */
const MAX_OFFSET = 64;

/** Σ constant·monomial: an integer expression's polynomial normal form, keyed by its monomials (each
 *  the sorted keys of its atoms; '' the constant). Undefined when it grows past a few dozen terms. */
function polynomial(e: LExpr): Map<string, number> | undefined {
  const single = (key: string, k: number) => new Map([[key, k]]);
  switch (e.kind) {
    case 'const':
      return single('', e.value);
    case 'unary':
      if (e.op === 'neg') {
        const a = polynomial(e.a);
        return a && new Map([...a].map(([m, k]) => [m, -k]));
      }
      return single(exprKey(e), 1);
    case 'binary': {
      if (e.ty !== 'i32' || !(e.op === '+' || e.op === '-' || e.op === '*')) return single(exprKey(e), 1);
      const [a, b] = [polynomial(e.a), polynomial(e.b)];
      if (!a || !b) return undefined;
      const out = new Map<string, number>();
      const put = (m: string, k: number) => out.set(m, (out.get(m) ?? 0) + k);
      if (e.op === '*')
        for (const [ma, ka] of a)
          for (const [mb, kb] of b)
            put(
              [...ma.split('\u0000'), ...mb.split('\u0000')]
                .filter((x) => x !== '')
                .sort()
                .join('\u0000'),
              ka * kb,
            );
      else {
        for (const [m, k] of a) put(m, k);
        for (const [m, k] of b) put(m, e.op === '+' ? k : -k);
      }
      return out.size > 64 ? undefined : out;
    }
    default:
      return single(exprKey(e), 1);
  }
}

/** a − b when it is a constant whatever the symbols' values, else undefined. */
export function constantDifference(a: LExpr, b: LExpr): number | undefined {
  const [pa, pb] = [polynomial(a), polynomial(b)];
  if (!pa || !pb) return undefined;
  for (const [m, k] of pb) pa.set(m, (pa.get(m) ?? 0) - k);
  for (const [m, k] of pa) if (m !== '' && k !== 0) return undefined;
  return pa.get('') ?? 0;
}

/** Replace the index of every load in e (outside other loads' indices too) by `f` of it. */
function mapIndices(e: LExpr, f: (index: LExpr) => LExpr): LExpr {
  switch (e.kind) {
    case 'load': {
      const index = f(mapIndices(e.index, f));
      return index === e.index ? e : { ...e, index };
    }
    case 'const':
    case 'var':
    case 'length':
      return e;
    case 'unary': {
      const a = mapIndices(e.a, f);
      return a === e.a ? e : { ...e, a };
    }
    case 'binary': {
      const a = mapIndices(e.a, f);
      const b = mapIndices(e.b, f);
      return a === e.a && b === e.b ? e : { ...e, a, b };
    }
    case 'select': {
      const cond = mapIndices(e.cond, f);
      const then = mapIndices(e.then, f);
      const otherwise = mapIndices(e.else, f);
      return cond === e.cond && then === e.then && otherwise === e.else ? e : { ...e, cond, then, else: otherwise };
    }
    case 'call':
    case 'claim': {
      const args = e.args.map((a) => mapIndices(a, f));
      return args.every((a, i) => a === e.args[i]) ? e : { ...e, args };
    }
    default:
      return assertNever(e);
  }
}

function reduceList(body: readonly LStmt[], share: boolean): LStmt[] {
  return body.flatMap((s): LStmt[] => {
    switch (s.kind) {
      case 'for':
        // the inner loops first: their pointers' inits are candidates of this loop
        return reduceLoop({ ...s, body: reduceList(s.body, share) }, share);
      case 'if':
        return [{ ...s, then: reduceList(s.then, share), else: reduceList(s.else, share) }];
      case 'block':
        return [{ ...s, body: reduceList(s.body, share) }];
      default:
        return [s];
    }
  });
}

export function strengthReduce(k: Kernel): Kernel {
  return { ...k, body: reduceList(k.body, k.runs === 'wasm') };
}
