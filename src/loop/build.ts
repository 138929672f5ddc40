// build: the only way loop IR is made — symbols, and constructors that type-check their operands and
// fold what is trivially foldable (the work mulCode/addCode/paren did on code text before).
//
// Worked example: add(mul(v(i), c(1)), c(0)) is the var i itself; add(add(v(p), c(2)), c(3)) is
// p + 5; mul(c(0), x) is 0 for an i32 x (a float 0·x stays: 0·NaN is NaN); lt(c(1), c(2)) is true.
import { assertNever, isFloat, type BinaryOp, type Buf, type ElemTy, type Intrinsic, type LExpr, type LStmt, type LoopKind, type Sym, type Ty, type UnaryOp } from './types.js';

let nextId = 0;
/** A fresh variable; the name is the printer's hint. */
export const sym = (name: string, ty: Ty): Sym => ({ kind: 'sym', id: nextId++, name, ty });
/** A fresh buffer. */
export const buffer = (name: string, elem: ElemTy): Buf => ({ kind: 'buf', id: nextId++, name, elem });

// ---- expressions ------------------------------------------------------------------------------

export const c = (value: number, ty: Ty = 'i32'): LExpr => ({ kind: 'const', ty, value: Object.is(value, -0) ? 0 : value });
export const TRUE: LExpr = c(1, 'bool');
export const FALSE: LExpr = c(0, 'bool');
export const v = (s: Sym): LExpr => ({ kind: 'var', ty: s.ty, v: s });
export const isConst = (e: LExpr, value?: number): boolean => e.kind === 'const' && (value === undefined || e.value === value);

function sameTy(op: string, a: LExpr, b: LExpr): Ty {
  if (a.ty !== b.ty) throw new Error(`internal: ${op} of ${a.ty} and ${b.ty}`);
  return a.ty;
}

/** The constant and the rest of `x + k` (k a constant): folds chains of constant offsets. */
function splitOffset(e: LExpr): [LExpr | undefined, number] {
  if (e.kind === 'const') return [undefined, e.value];
  if (e.kind === 'binary' && e.op === '+' && e.b.kind === 'const' && e.ty === 'i32') return [e.a, e.b.value];
  if (e.kind === 'binary' && e.op === '-' && e.b.kind === 'const' && e.ty === 'i32') return [e.a, -e.b.value];
  return [e, 0];
}

const int = (ty: Ty) => ty === 'i32';

export function add(a: LExpr, b: LExpr): LExpr {
  const ty = sameTy('+', a, b);
  if (a.kind === 'const' && b.kind === 'const') return c(a.value + b.value, ty);
  if (int(ty)) {
    if (isConst(a, 0)) return b;
    if (isConst(b, 0)) return a;
    // (x + k1) + k2 → x + (k1 + k2); x + (−y) → x − y
    const [x, k1] = splitOffset(a);
    if (b.kind === 'const' && x && k1 !== 0) return offset(x, k1 + b.value);
    if (b.kind === 'unary' && b.op === 'neg') return sub(a, b.a);
    if (b.kind === 'const' && b.value < 0) return { kind: 'binary', ty, op: '-', a, b: c(-b.value, ty) };
  } else if (isConst(b, 0) && a.kind !== 'const') return a;
  // a + (−b) is a − b, exactly, in floating point too
  if (b.kind === 'unary' && b.op === 'neg') return sub(a, b.a);
  if (b.kind === 'const' && b.value < 0) return { kind: 'binary', ty, op: '-', a, b: c(-b.value, ty) };
  return { kind: 'binary', ty, op: '+', a, b };
}

const offset = (x: LExpr, k: number): LExpr => (k === 0 ? x : k > 0 ? { kind: 'binary', ty: x.ty, op: '+', a: x, b: c(k, x.ty) } : { kind: 'binary', ty: x.ty, op: '-', a: x, b: c(-k, x.ty) });

export function sub(a: LExpr, b: LExpr): LExpr {
  const ty = sameTy('-', a, b);
  if (a.kind === 'const' && b.kind === 'const') return c(a.value - b.value, ty);
  if (int(ty)) {
    if (isConst(b, 0)) return a;
    if (b.kind === 'const') return add(a, c(-b.value, ty));
    if (isConst(a, 0)) return neg(b);
    if (b.kind === 'unary' && b.op === 'neg') return add(a, b.a);
  }
  // a − (m + l) → (a − m) − l for two locals: x − logsumexp as (x − max) − log Σ, exact where x is
  // near the max (lowerReduction.ts), where m + l rounded at m's magnitude first would not be
  else if (b.kind === 'binary' && b.op === '+' && b.a.kind === 'var' && b.b.kind === 'var') return sub(sub(a, b.a), b.b);
  return { kind: 'binary', ty, op: '-', a, b };
}

export function neg(a: LExpr): LExpr {
  if (a.kind === 'const') return c(-a.value, a.ty);
  if (a.kind === 'unary' && a.op === 'neg') return a.a;
  return { kind: 'unary', ty: a.ty, op: 'neg', a };
}

export function mul(a: LExpr, b: LExpr): LExpr {
  const ty = sameTy('*', a, b);
  if (a.kind === 'const' && b.kind === 'const') return c(a.value * b.value, ty);
  if (isConst(a, 1)) return b;
  if (isConst(b, 1)) return a;
  if (int(ty)) {
    if (isConst(a, 0) || isConst(b, 0)) return c(0, ty);
    if (isConst(a, -1)) return neg(b);
    if (isConst(b, -1)) return neg(a);
  }
  return { kind: 'binary', ty, op: '*', a, b };
}

export function div(a: LExpr, b: LExpr): LExpr {
  const ty = sameTy('/', a, b);
  if (!isFloat(ty)) throw new Error('internal: / of integers (use floordiv or ceildiv)');
  if (isConst(b, 1)) return a;
  // x / 2^k is x · 2^−k exactly (one rounding of the same real number): a product costs less
  if (b.kind === 'const' && b.value !== 0 && isPowerOfTwo(Math.abs(b.value))) return mul(a, c(1 / b.value, ty));
  return { kind: 'binary', ty, op: '/', a, b };
}

/** 2^k with 2^k and 2^−k normal numbers in float32 too (|k| ≤ 126). */
const isPowerOfTwo = (x: number): boolean => {
  const k = Math.log2(x);
  return Number.isInteger(k) && Math.abs(k) <= 126;
};

/** ⌊a/b⌋ for integers (b > 0 unless said otherwise). */
export function floordiv(a: LExpr, b: LExpr): LExpr {
  const ty = sameTy('floordiv', a, b);
  if (isConst(b, 1)) return a;
  if (a.kind === 'const' && b.kind === 'const' && b.value !== 0) return c(Math.floor(a.value / b.value), ty);
  return { kind: 'binary', ty, op: 'floordiv', a, b };
}

export function ceildiv(a: LExpr, b: LExpr): LExpr {
  const ty = sameTy('ceildiv', a, b);
  if (isConst(b, 1)) return a;
  if (a.kind === 'const' && b.kind === 'const' && b.value !== 0) return c(Math.ceil(a.value / b.value), ty);
  return { kind: 'binary', ty, op: 'ceildiv', a, b };
}

/** Floor modulo (the divisor's sign). */
export function mod(a: LExpr, b: LExpr): LExpr {
  const ty = sameTy('mod', a, b);
  if (isConst(b, 1)) return c(0, ty);
  if (a.kind === 'const' && b.kind === 'const' && b.value !== 0) return c(((a.value % b.value) + b.value) % b.value, ty);
  return { kind: 'binary', ty, op: 'mod', a, b };
}

/** Truncating remainder, for a ≥ 0. */
export function rem(a: LExpr, b: LExpr): LExpr {
  const ty = sameTy('rem', a, b);
  if (isConst(b, 1)) return c(0, ty);
  if (a.kind === 'const' && b.kind === 'const' && b.value !== 0) return c(a.value % b.value, ty);
  return { kind: 'binary', ty, op: 'rem', a, b };
}

export function min(a: LExpr, b: LExpr): LExpr {
  const ty = sameTy('min', a, b);
  if (a.kind === 'const' && b.kind === 'const') return c(Math.min(a.value, b.value), ty);
  if (a === b) return a;
  return { kind: 'binary', ty, op: 'min', a, b };
}

export function max(a: LExpr, b: LExpr): LExpr {
  const ty = sameTy('max', a, b);
  if (a.kind === 'const' && b.kind === 'const') return c(Math.max(a.value, b.value), ty);
  if (a === b) return a;
  return { kind: 'binary', ty, op: 'max', a, b };
}

const COMPARE: Record<'<' | '<=' | '>' | '>=' | '==' | '!=', (x: number, y: number) => boolean> = {
  '<': (x, y) => x < y,
  '<=': (x, y) => x <= y,
  '>': (x, y) => x > y,
  '>=': (x, y) => x >= y,
  '==': (x, y) => x === y,
  '!=': (x, y) => x !== y,
};

export function cmp(op: keyof typeof COMPARE, a: LExpr, b: LExpr): LExpr {
  sameTy(op, a, b);
  if (a.kind === 'const' && b.kind === 'const') return COMPARE[op](a.value, b.value) ? TRUE : FALSE;
  return { kind: 'binary', ty: 'bool', op, a, b };
}
export const lt = (a: LExpr, b: LExpr) => cmp('<', a, b);
export const le = (a: LExpr, b: LExpr) => cmp('<=', a, b);
export const gt = (a: LExpr, b: LExpr) => cmp('>', a, b);
export const ge = (a: LExpr, b: LExpr) => cmp('>=', a, b);
export const eq = (a: LExpr, b: LExpr) => cmp('==', a, b);
export const ne = (a: LExpr, b: LExpr) => cmp('!=', a, b);

export function and(a: LExpr, b: LExpr): LExpr {
  if (a.ty !== 'bool' || b.ty !== 'bool') throw new Error('internal: && of non-booleans');
  if (a.kind === 'const') return a.value ? b : FALSE;
  if (b.kind === 'const') return b.value ? a : FALSE;
  return { kind: 'binary', ty: 'bool', op: '&&', a, b };
}
export const all = (xs: readonly LExpr[]): LExpr => xs.reduce(and, TRUE);

export function or(a: LExpr, b: LExpr): LExpr {
  if (a.ty !== 'bool' || b.ty !== 'bool') throw new Error('internal: || of non-booleans');
  if (a.kind === 'const') return a.value ? TRUE : b;
  if (b.kind === 'const') return b.value ? TRUE : a;
  return { kind: 'binary', ty: 'bool', op: '||', a, b };
}

export function not(a: LExpr): LExpr {
  if (a.ty !== 'bool') throw new Error('internal: ! of a non-boolean');
  if (a.kind === 'const') return a.value ? FALSE : TRUE;
  return { kind: 'unary', ty: 'bool', op: 'not', a };
}

export function select(cond: LExpr, then: LExpr, otherwise: LExpr): LExpr {
  if (cond.ty !== 'bool') throw new Error('internal: select on a non-boolean');
  const ty = sameTy('select', then, otherwise);
  if (cond.kind === 'const') return cond.value ? then : otherwise;
  return { kind: 'select', ty, cond, then, else: otherwise };
}

/** A conversion: bool → 0/1, i32 ↔ float (toward 0), f32 ↔ f64. */
export function cast(ty: Ty, a: LExpr): LExpr {
  if (a.ty === ty) return a;
  if (a.kind === 'const') return c(ty === 'i32' ? Math.trunc(a.value) : a.value, ty);
  return { kind: 'unary', ty, op: 'cast', a };
}

export const unary = (op: Exclude<UnaryOp, 'cast' | 'neg' | 'not'>, ty: Ty, a: LExpr): LExpr => ({ kind: 'unary', ty, op, a });
export const binary = (op: BinaryOp, a: LExpr, b: LExpr): LExpr => ({ kind: 'binary', ty: sameTy(op, a, b), op, a, b });

export const call = (fn: Intrinsic, ty: Ty, args: readonly LExpr[]): LExpr => ({ kind: 'call', ty, fn, args });

/** buf[index]; the element type unless `ty` says otherwise (a `u8` memory read as f64, a vector). */
export function load(buf: Buf, index: LExpr, opts: { ty?: Ty; inBounds?: boolean } = {}): LExpr {
  if (index.ty !== 'i32') throw new Error(`internal: index of ${buf.name} is ${index.ty}`);
  const ty = opts.ty ?? (buf.elem === 'u8' ? 'i32' : buf.elem);
  return { kind: 'load', ty, buf, index, inBounds: opts.inBounds ?? true };
}

export const length = (buf: Buf): LExpr => ({ kind: 'length', ty: 'i32', buf });

// ---- statements -------------------------------------------------------------------------------

export const let_ = (s: Sym, init: LExpr, mutable = false): LStmt => {
  if (init.ty !== s.ty) throw new Error(`internal: let ${s.name}: ${s.ty} = ${init.ty}`);
  return { kind: 'let', v: s, init, mutable };
};
export const assign = (s: Sym, value: LExpr): LStmt => {
  if (value.ty !== s.ty) throw new Error(`internal: ${s.name}: ${s.ty} = ${value.ty}`);
  return { kind: 'assign', v: s, value };
};
/** e as base + k, k the constants of its chain of sums: X + (2·v + 1) → (X + 2·v, 1). Indices that
 * differ by a constant have one base (strengthReduce shares their pointer; vectorizeLoops pairs them). */
export function peelConstant(e: LExpr): { base: LExpr; k: number } {
  const terms: LExpr[] = [];
  let k = 0;
  const walk = (x: LExpr): void => {
    if (x.kind === 'const') k += x.value;
    else if (x.kind === 'binary' && x.ty === 'i32' && x.op === '+') (walk(x.a), walk(x.b));
    else if (x.kind === 'binary' && x.ty === 'i32' && x.op === '-' && x.b.kind === 'const') (walk(x.a), (k -= x.b.value));
    else terms.push(x);
  };
  walk(e);
  return { base: terms.reduce((a, b) => add(a, b), c(0)), k };
}

/** s = s + value */
export const addTo = (s: Sym, value: LExpr): LStmt => assign(s, add(v(s), value));
export const store = (buf: Buf, index: LExpr, value: LExpr): LStmt => {
  if (index.ty !== 'i32') throw new Error(`internal: index of ${buf.name} is ${index.ty}`);
  return { kind: 'store', buf, index, value };
};
export function for_(s: Sym, lo: LExpr, hi: LExpr, body: readonly LStmt[], opts: { step?: LExpr; loop?: LoopKind; nonEmpty?: boolean } = {}): LStmt {
  if (s.ty !== 'i32' || lo.ty !== 'i32' || hi.ty !== 'i32') throw new Error(`internal: loop ${s.name} over non-integers`);
  return { kind: 'for', v: s, lo, hi, step: opts.step ?? c(1), loop: opts.loop ?? 'serial', body, ...(opts.nonEmpty ? { nonEmpty: true } : {}) };
}
export function if_(cond: LExpr, then: readonly LStmt[], otherwise: readonly LStmt[] = []): LStmt[] {
  if (cond.ty !== 'bool') throw new Error('internal: if on a non-boolean');
  if (cond.kind === 'const') return [...(cond.value ? then : otherwise)];
  return [{ kind: 'if', cond, then, else: otherwise }];
}
export const comment = (text: string): LStmt => ({ kind: 'comment', text });
export const block = (body: readonly LStmt[]): LStmt => ({ kind: 'block', body });

const VARS = new WeakMap<LExpr, ReadonlySet<Sym>>();
const NONE: ReadonlySet<Sym> = new Set();

/** The free symbols an expression reads (memoized: expressions are immutable, and passes ask often). */
export function varsOf(e: LExpr): ReadonlySet<Sym> {
  let out = VARS.get(e);
  if (out) return out;
  switch (e.kind) {
    case 'const':
    case 'length':
      out = NONE;
      break;
    case 'var':
      out = new Set([e.v]);
      break;
    case 'load':
      out = varsOf(e.index);
      break;
    case 'unary':
      out = varsOf(e.a);
      break;
    case 'binary':
      out = union([varsOf(e.a), varsOf(e.b)]);
      break;
    case 'select':
      out = union([varsOf(e.cond), varsOf(e.then), varsOf(e.else)]);
      break;
    case 'call':
    case 'claim':
      out = union(e.args.map(varsOf));
      break;
    default:
      return assertNever(e);
  }
  VARS.set(e, out);
  return out;
}

function union(sets: readonly ReadonlySet<Sym>[]): ReadonlySet<Sym> {
  const nonEmpty = sets.filter((x) => x.size > 0);
  if (nonEmpty.length <= 1) return nonEmpty[0] ?? NONE;
  const out = new Set<Sym>();
  for (const x of nonEmpty) for (const y of x) out.add(y);
  return out;
}

const READS = new WeakMap<LExpr, boolean>();

/** Does the expression read an array (a load, or a buffer's length)? Memoized like varsOf. */
export function readsMemory(e: LExpr): boolean {
  let out = READS.get(e);
  if (out !== undefined) return out;
  switch (e.kind) {
    case 'const':
    case 'var':
      out = false;
      break;
    case 'load':
    case 'length':
    // an atomic add: it reads (and changes) memory, so it is never hoisted nor merged
    case 'claim':
      out = true;
      break;
    case 'unary':
      out = readsMemory(e.a);
      break;
    case 'binary':
      out = readsMemory(e.a) || readsMemory(e.b);
      break;
    case 'select':
      out = readsMemory(e.cond) || readsMemory(e.then) || readsMemory(e.else);
      break;
    case 'call':
      out = e.args.some(readsMemory);
      break;
    default:
      return assertNever(e);
  }
  READS.set(e, out);
  return out;
}

/** The free symbols an expression reads, as a set of one's own. */
export const exprVars = (e: LExpr): Set<Sym> => new Set(varsOf(e));

/** Rebuild one node through its constructor, so that what its new children allow folds. */
export function refold(e: LExpr): LExpr {
  switch (e.kind) {
    case 'binary':
      switch (e.op) {
        case '+':
          return add(e.a, e.b);
        case '-':
          return sub(e.a, e.b);
        case '*':
          return mul(e.a, e.b);
        case 'floordiv':
          return floordiv(e.a, e.b);
        case 'ceildiv':
          return ceildiv(e.a, e.b);
        case 'mod':
          return mod(e.a, e.b);
        case 'rem':
          return rem(e.a, e.b);
        case 'min':
          return min(e.a, e.b);
        case 'max':
          return max(e.a, e.b);
        case '&&':
          return and(e.a, e.b);
        case '||':
          return or(e.a, e.b);
        case '<':
        case '<=':
        case '>':
        case '>=':
        case '==':
        case '!=':
          return cmp(e.op, e.a, e.b);
        default:
          return e;
      }
    case 'unary':
      return e.op === 'neg' ? neg(e.a) : e.op === 'not' ? not(e.a) : e.op === 'cast' ? cast(e.ty, e.a) : e;
    case 'select':
      return select(e.cond, e.then, e.else);
    default:
      return e;
  }
}

/** e with every read of `s` replaced by `by`, folded where that allows. */
export const substitute = (e: LExpr, s: Sym, by: LExpr): LExpr => substituteAll(e, new Map([[s, by]]));

/** e with every read of a symbol in `map` replaced, folded where that allows; untouched subtrees are
 * kept (the same objects), so what is memoized of them stays. */
export function substituteAll(e: LExpr, map: ReadonlyMap<Sym, LExpr>): LExpr {
  if (map.size === 0) return e;
  const go = (x: LExpr): LExpr => {
    switch (x.kind) {
      case 'var':
        return map.get(x.v) ?? x;
      case 'const':
      case 'length':
        return x;
      case 'load': {
        const index = go(x.index);
        return index === x.index ? x : { ...x, index };
      }
      case 'unary': {
        const a = go(x.a);
        return a === x.a ? x : refold({ ...x, a });
      }
      case 'binary': {
        const a = go(x.a);
        const b = go(x.b);
        return a === x.a && b === x.b ? x : refold({ ...x, a, b });
      }
      case 'select': {
        const cond = go(x.cond);
        const then = go(x.then);
        const otherwise = go(x.else);
        return cond === x.cond && then === x.then && otherwise === x.else ? x : refold({ ...x, cond, then, else: otherwise });
      }
      case 'call':
      case 'claim': {
        const args = x.args.map(go);
        return args.every((a, i) => a === x.args[i]) ? x : { ...x, args };
      }
      default:
        return assertNever(x);
    }
  };
  return go(e);
}
