// mapLoop: generic traversals of the loop IR. Every mapper returns the very same object when nothing
// under it changed (Halide's IRMutator), so a pass that rewrites nothing costs no copies and callers
// can test `out === in`.
//
// Worked example: mapExprs(body, (e) => e.kind === 'var' && e.v === p ? add(v(p), c(4)) : e) rewrites
// every read of p (in stores, lets, loop bounds, nested loops) and returns `body` itself when p is
// read nowhere.
import { assertNever, type LExpr, type LStmt } from './types.js';

const sameList = <T>(a: readonly T[], b: readonly T[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const mapList = <T>(xs: readonly T[], f: (x: T) => T): readonly T[] => {
  const ys = xs.map(f);
  return sameList(xs, ys) ? xs : ys;
};

/** Rebuild e bottom-up: f sees each node after its children were mapped. */
export function mapExpr(e: LExpr, f: (e: LExpr) => LExpr): LExpr {
  let out: LExpr;
  switch (e.kind) {
    case 'const':
    case 'var':
    case 'length':
      out = e;
      break;
    case 'load': {
      const index = mapExpr(e.index, f);
      out = index === e.index ? e : { ...e, index };
      break;
    }
    case 'unary': {
      const a = mapExpr(e.a, f);
      out = a === e.a ? e : { ...e, a };
      break;
    }
    case 'binary': {
      const a = mapExpr(e.a, f);
      const b = mapExpr(e.b, f);
      out = a === e.a && b === e.b ? e : { ...e, a, b };
      break;
    }
    case 'select': {
      const cond = mapExpr(e.cond, f);
      const then = mapExpr(e.then, f);
      const otherwise = mapExpr(e.else, f);
      out = cond === e.cond && then === e.then && otherwise === e.else ? e : { ...e, cond, then, else: otherwise };
      break;
    }
    case 'call':
    case 'claim': {
      const args = mapList(e.args, (a) => mapExpr(a, f));
      out = args === e.args ? e : { ...e, args };
      break;
    }
    default:
      return assertNever(e);
  }
  return f(out);
}

/** Map every expression of a statement list (not descending into the expressions: f gets whole trees). */
export function mapStmtExprs(body: readonly LStmt[], f: (e: LExpr) => LExpr): readonly LStmt[] {
  return mapList(body, (s) => mapStmtExpr(s, f));
}

function mapStmtExpr(s: LStmt, f: (e: LExpr) => LExpr): LStmt {
  switch (s.kind) {
    case 'for': {
      const lo = f(s.lo);
      const hi = f(s.hi);
      const step = f(s.step);
      const body = mapStmtExprs(s.body, f);
      return lo === s.lo && hi === s.hi && step === s.step && body === s.body ? s : { ...s, lo, hi, step, body };
    }
    case 'let': {
      const init = f(s.init);
      return init === s.init ? s : { ...s, init };
    }
    case 'assign': {
      const value = f(s.value);
      return value === s.value ? s : { ...s, value };
    }
    case 'store': {
      const index = f(s.index);
      const value = f(s.value);
      return index === s.index && value === s.value ? s : { ...s, index, value };
    }
    case 'if': {
      const cond = f(s.cond);
      const then = mapStmtExprs(s.then, f);
      const otherwise = mapStmtExprs(s.else, f);
      return cond === s.cond && then === s.then && otherwise === s.else ? s : { ...s, cond, then, else: otherwise };
    }
    case 'alloc': {
      const size = f(s.size);
      return size === s.size ? s : { ...s, size };
    }
    case 'view': {
      const offset = f(s.offset);
      const count = s.count && f(s.count);
      return offset === s.offset && count === s.count ? s : { ...s, offset, ...(count ? { count } : {}) };
    }
    case 'copy': {
      const dstAt = f(s.dstAt);
      const srcAt = f(s.srcAt);
      const count = f(s.count);
      return dstAt === s.dstAt && srcAt === s.srcAt && count === s.count ? s : { ...s, dstAt, srcAt, count };
    }
    case 'fill': {
      const from = f(s.from);
      const to = f(s.to);
      const value = f(s.value);
      return from === s.from && to === s.to && value === s.value ? s : { ...s, from, to, value };
    }
    case 'microkernel': {
      const args = mapList(s.args, f);
      return args === s.args ? s : { ...s, args };
    }
    case 'choose': {
      const cond = f(s.cond);
      return cond === s.cond ? s : { ...s, cond };
    }
    case 'linalg': {
      const n = f(s.n);
      return n === s.n ? s : { ...s, n };
    }
    case 'fail': {
      const values = mapList(s.values, f);
      return values === s.values ? s : { ...s, values };
    }
    case 'block': {
      const body = mapStmtExprs(s.body, f);
      return body === s.body ? s : { ...s, body };
    }
    case 'comment':
    case 'barrier':
      return s;
    default:
      return assertNever(s);
  }
}

/** Map every expression node everywhere in a statement list, bottom-up. */
export const mapExprs = (body: readonly LStmt[], f: (e: LExpr) => LExpr): readonly LStmt[] => mapStmtExprs(body, (e) => mapExpr(e, f));

/** Rewrite statement lists bottom-up: f gets each list after its nested lists were rewritten. */
export function mapBlocks(body: readonly LStmt[], f: (body: readonly LStmt[]) => readonly LStmt[]): readonly LStmt[] {
  const inner = mapList(body, (s): LStmt => {
    switch (s.kind) {
      case 'for': {
        const b = mapBlocks(s.body, f);
        return b === s.body ? s : { ...s, body: b };
      }
      case 'if': {
        const then = mapBlocks(s.then, f);
        const otherwise = mapBlocks(s.else, f);
        return then === s.then && otherwise === s.else ? s : { ...s, then, else: otherwise };
      }
      case 'block': {
        const b = mapBlocks(s.body, f);
        return b === s.body ? s : { ...s, body: b };
      }
      default:
        return s;
    }
  });
  const out = f(inner);
  return sameList(out, inner) ? inner : out;
}

/** Visit every statement (pre-order) and every expression tree at its statement. */
export function walkStmts(body: readonly LStmt[], visit: (s: LStmt) => void): void {
  for (const s of body) {
    visit(s);
    if (s.kind === 'for' || s.kind === 'block') walkStmts(s.body, visit);
    else if (s.kind === 'if') {
      walkStmts(s.then, visit);
      walkStmts(s.else, visit);
    }
  }
}

/** The expression trees directly held by a statement (not those of nested statements). */
export function stmtExprs(s: LStmt): LExpr[] {
  switch (s.kind) {
    case 'for':
      return [s.lo, s.hi, s.step];
    case 'let':
      return [s.init];
    case 'assign':
      return [s.value];
    case 'store':
      return [s.index, s.value];
    case 'if':
      return [s.cond];
    case 'alloc':
      return [s.size];
    case 'view':
      return s.count ? [s.offset, s.count] : [s.offset];
    case 'copy':
      return [s.dstAt, s.srcAt, s.count];
    case 'fill':
      return [s.from, s.to, s.value];
    case 'microkernel':
      return [...s.args];
    case 'choose':
      return [s.cond];
    case 'linalg':
      return [s.n];
    case 'fail':
      return [...s.values];
    case 'block':
    case 'comment':
    case 'barrier':
      return [];
    default:
      return assertNever(s);
  }
}

/** Visit every expression node, pre-order. */
export function walkExpr(e: LExpr, visit: (e: LExpr) => void): void {
  visit(e);
  switch (e.kind) {
    case 'load':
      return walkExpr(e.index, visit);
    case 'unary':
      return walkExpr(e.a, visit);
    case 'binary':
      walkExpr(e.a, visit);
      return walkExpr(e.b, visit);
    case 'select':
      walkExpr(e.cond, visit);
      walkExpr(e.then, visit);
      return walkExpr(e.else, visit);
    case 'call':
    case 'claim':
      return e.args.forEach((a) => walkExpr(a, visit));
    default:
  }
}

const KEYS = new WeakMap<LExpr, string>();

/** A structural key: equal keys mean equal expressions (symbols and buffers by identity). Memoized:
 * expressions are immutable. */
export function exprKey(e: LExpr): string {
  let key = KEYS.get(e);
  if (key === undefined) {
    key = keyOf(e);
    KEYS.set(e, key);
  }
  return key;
}

function keyOf(e: LExpr): string {
  switch (e.kind) {
    case 'const':
      return `${e.value}:${e.ty}`;
    case 'var':
      return `v${e.v.id}`;
    case 'length':
      return `len(b${e.buf.id})`;
    case 'load':
      return `b${e.buf.id}[${exprKey(e.index)}]:${e.ty}`;
    case 'unary':
      return `${e.op}:${e.ty}(${exprKey(e.a)})`;
    case 'binary':
      return `(${exprKey(e.a)} ${e.op} ${exprKey(e.b)})`;
    case 'select':
      return `(${exprKey(e.cond)} ? ${exprKey(e.then)} : ${exprKey(e.else)})`;
    case 'claim':
      // (never merged with an equal one: it reads memory, build.ts readsMemory)
      return `claim(b${e.buf.id},${e.args.map(exprKey).join(',')})`;
    case 'call':
      return `${e.fn}:${e.ty}(${e.args.map(exprKey).join(',')})`;
    default:
      return assertNever(e);
  }
}
