// printWasm: a micro-kernel module's function in loop IR → the assembler's instructions (a stack
// machine: each expression tree is walked operands first, then its operator; wasmOps.ts says which
// instruction spells each operator at each type).
//
// Worked example: the function f(p, n) = for i in [0, n) { store(mem, p + 8, load(mem, p, f64) * 2) }
// (i unread in the body, so the loop counts down in i) prints as
//   local.get n  local.set i                             ;; i counts the trips left
//   block  local.get i  i32.const 0  i32.le_s  br_if 0   ;; none: skip the loop
//     loop
//       local.get p                                      ;; the address; `+ 8` goes into the offset
//       local.get p  f64.load  f64.const 2  f64.mul
//       f64.store offset=8
//       local.get i  i32.const 1  i32.sub  local.tee i  br_if 0
//     end
//   end
// A loop whose variable is read counts up and tests at the bottom (one branch a trip), guarded once
// at the top unless `nonEmpty`. What WebAssembly lacks is legalised here: floor division and floor
// modulo of i32 (from the truncating div_s / rem_s), i32 min/max (select), bool && with an operand
// that may trap (an if, so it is not evaluated), a non-byte fill (a loop of stores). Anything else
// it cannot print (the language's exp, log …, a buffer other than the memory) is an `internal:` error.
import { c, for_, isConst, let_, lt, store, sub, sym, v } from '../../loop/build.js';
import { stmtExprs, walkExpr, walkStmts } from '../../loop/mapLoop.js';
import { assertNever, elemBytes, isVector, type LExpr, type LStmt, type MicroFunction, type Sym, type Ty } from '../../loop/types.js';
import { Namer } from '../names.js';
import { watOf, type Instr, type WasmFunction, type WasmType } from './assembleWasm.js';
import { ARITH, CAST, CEIL, FLOOR, INTRINSIC, LOAD, LOAD_SPLAT, NEG, peephole, SPLAT, STORE, WASM_TYPE, type ByTy } from './wasmOps.js';

/** An instruction, or an emitter of a value's instructions (an operand). */
type Part = Instr | (() => void);

/** The function as the assembler's instructions; its parameters are i32 locals like any other. */
export function printWasm(f: MicroFunction): WasmFunction {
  const namer = new Namer({ reserved: new Set(), dollar: false });
  const locals: [string, WasmType][] = [];
  const declared = new Map<Sym, string>();
  const params = f.params.map((p): [string, WasmType] => {
    const n = namer.of(p);
    declared.set(p, n);
    return [n, WASM_TYPE[p.ty]];
  });
  const out: Instr[] = [];
  const emit = (...parts: Part[]): void => parts.forEach((x) => (typeof x === 'function' ? x() : out.push(x)));
  /** the emitter of e's value */
  const ev = (e: LExpr) => () => expr(e);
  const fail = (what: string): never => {
    throw new Error(`internal: printWasm cannot print ${what} (in ${f.name})`);
  };
  const local = (s: Sym): string => {
    let n = declared.get(s);
    if (n === undefined) {
      n = namer.of(s);
      declared.set(s, n);
      locals.push([n, WASM_TYPE[s.ty]]);
    }
    return n;
  };
  const scratch = (hint: string, ty: Ty): string => {
    const n = namer.fresh(hint);
    locals.push([n, WASM_TYPE[ty]]);
    return n;
  };
  const pick = (table: ByTy | undefined, ty: Ty, what: string): Instr => [table?.[ty] ?? fail(`${what} of ${ty}`)];

  /** An emitter of e's value, to use more than once: e itself when it is a local or a constant,
   * else a scratch local it is stored in now. */
  const reuse = (e: LExpr, hint: string): (() => void) => {
    if (e.kind === 'var' || e.kind === 'const') return ev(e);
    const t = scratch(hint, e.ty);
    emit(ev(e), ['local.set', t]);
    return () => emit(['local.get', t]);
  };

  /** Emits an address's non-constant part and returns its constant part, the memarg offset:
   * p + 16 → local.get p, offset 16 (the base is an address itself, ≥ 0, as pointer arithmetic gives). */
  const address = (index: LExpr): number => {
    const folded = index.kind === 'binary' && index.op === '+' && index.b.kind === 'const' && index.b.value > 0 && index.b.value < 2 ** 31;
    emit(ev(folded ? index.a : index));
    return folded ? index.b.value : 0;
  };
  const memoryLoad = (e: Extract<LExpr, { kind: 'load' }>, what: string): number => {
    if (e.buf !== f.mem) fail(`a load of ${e.buf.name}, which is not the module's memory`);
    if (!e.inBounds) fail(`${what} of ${e.buf.name} not known to be in bounds`);
    return address(e.index);
  };

  function constant(value: number, ty: Ty): void {
    if (ty === 'i32' || ty === 'bool') {
      if ((value | 0) !== value) fail(`the i32 constant ${value}`);
      return emit(['i32.const', value]);
    }
    if (ty === 'f32' || ty === 'f64') return emit([`${ty}.const`, value]);
    if (value === 0) return emit(['v128.const']);
    emit(() => constant(value, ty === 'f64x2' ? 'f64' : ty === 'f32x4' ? 'f32' : 'i32'), [SPLAT[ty]]);
  }

  function expr(e: LExpr): void {
    switch (e.kind) {
      case 'const':
        return constant(e.value, e.ty);
      case 'var':
        return emit(['local.get', local(e.v)]);
      case 'length':
        if (e.buf !== f.mem) fail(`the length of ${e.buf.name}`);
        // pages of 64 KiB, in bytes
        return emit(['memory.size'], ['i32.const', 16], ['i32.shl']);
      case 'load': {
        const offset = memoryLoad(e, 'a load');
        return emit([pick(LOAD, e.ty, 'a load')[0], offset]);
      }
      case 'unary':
        return unary(e);
      case 'binary':
        return binary(e);
      case 'select':
        // both arms are evaluated: fine, the loop IR's expressions are pure
        return emit(ev(e.then), ev(e.else), ev(e.cond), ['select']);
      case 'call':
        return call(e);
      default:
        return assertNever(e);
    }
  }

  function unary(e: Extract<LExpr, { kind: 'unary' }>): void {
    const op = e.op;
    switch (op) {
      case 'neg':
        return e.ty === 'i32' ? emit(['i32.const', 0], ev(e.a), ['i32.sub']) : emit(ev(e.a), pick(NEG, e.ty, 'neg'));
      case 'not':
        return emit(ev(e.a), ['i32.eqz']);
      case 'cast': {
        const ops = CAST[`${e.a.ty}>${e.ty}`] ?? fail(`a cast of ${e.a.ty} to ${e.ty}`);
        return emit(ev(e.a), ...ops.map((o): Instr => [o]));
      }
      case 'floor':
      case 'ceil':
        return emit(ev(e.a), pick(op === 'floor' ? FLOOR : CEIL, e.ty, op));
      case 'splat': {
        if (!isVector(e.ty)) return fail(`a splat to ${e.ty}`);
        if (e.a.kind !== 'load') return emit(ev(e.a), [SPLAT[e.ty]]);
        // a lane read straight into every lane
        const offset = memoryLoad(e.a, 'a splat load');
        return emit([LOAD_SPLAT[e.ty], offset]);
      }
      default:
        return assertNever(op);
    }
  }

  /** May evaluating e trap (a load, a division)? Then it must not run when a && / || skips it. */
  const mayTrap = (e: LExpr): boolean => {
    let trap = false;
    walkExpr(e, (x) => void (trap ||= x.kind === 'load' || (x.kind === 'binary' && ['floordiv', 'ceildiv', 'mod', 'rem'].includes(x.op))));
    return trap;
  };

  function binary(e: Extract<LExpr, { kind: 'binary' }>): void {
    const { op, a, b } = e;
    // a ? b : 0, or a ? 1 : b, with b evaluated only when it decides
    if (op === '&&' && mayTrap(b)) return emit(ev(a), ['if', 'i32'], ev(b), ['else'], ['i32.const', 0], ['end']);
    if (op === '||' && mayTrap(b)) return emit(ev(a), ['if', 'i32'], ['i32.const', 1], ['else'], ev(b), ['end']);
    if (e.ty === 'i32' && (op === 'floordiv' || op === 'ceildiv' || op === 'mod')) return divide(op, a, b);
    if (e.ty === 'i32' && (op === 'min' || op === 'max')) {
      const [A, B] = [reuse(a, 'a'), reuse(b, 'b')];
      return emit(A, B, A, B, [op === 'min' ? 'i32.lt_s' : 'i32.gt_s'], ['select']);
    }
    emit(ev(a), ev(b), pick(ARITH[op], a.ty, op));
  }

  /** Floor division, ceiling division and floor modulo of i32 by a positive divisor, from the
   * truncating div_s / rem_s (which round toward 0: wrong for a negative numerator). */
  function divide(op: 'floordiv' | 'ceildiv' | 'mod', a: LExpr, b: LExpr): void {
    if (b.kind === 'const' && b.value <= 0) fail(`${op} by ${b.value} (the divisor must be positive)`);
    if (b.kind === 'const' && Number.isInteger(Math.log2(b.value))) {
      // by 2^s: an arithmetic shift is the floor; the low bits are the floor modulo
      const s = Math.log2(b.value);
      if (op === 'mod') return emit(ev(a), ['i32.const', b.value - 1], ['i32.and']);
      if (op === 'ceildiv') return emit(ev(a), ['i32.const', b.value - 1], ['i32.add'], ['i32.const', s], ['i32.shr_s']);
      return emit(ev(a), ['i32.const', s], ['i32.shr_s']);
    }
    const [A, B] = [reuse(a, 'a'), reuse(b, 'b')];
    if (op === 'mod') {
      // r = a rem b; r < 0 ? r + b : r
      const r = scratch('r', 'i32');
      return emit(A, B, ['i32.rem_s'], ['local.set', r], ['local.get', r], B, ['i32.add'], ['local.get', r], ['local.get', r], ['i32.const', 0], ['i32.lt_s'], ['select']);
    }
    // ⌊a/b⌋ = (a − (a < 0 ? b − 1 : 0)) div b;  ⌈a/b⌉ = (a + (a > 0 ? b − 1 : 0)) div b
    const bMinus1: Part[] = b.kind === 'const' ? [['i32.const', b.value - 1]] : [B, ['i32.const', 1], ['i32.sub']];
    const [test, combine] = op === 'floordiv' ? (['i32.lt_s', 'i32.sub'] as const) : (['i32.gt_s', 'i32.add'] as const);
    emit(A, ...bMinus1, ['i32.const', 0], A, ['i32.const', 0], [test], ['select'], [combine], B, ['i32.div_s']);
  }

  function call(e: Extract<LExpr, { kind: 'call' }>): void {
    const [x, y] = e.args;
    const zero = () => constant(0, e.ty);
    // x > 0 ? x : 0 (relu(NaN) = 0)
    if (e.fn === 'relu' && !isVector(e.ty)) {
      const X = reuse(x!, 'x');
      return emit(X, zero, X, zero, pick(ARITH['>'], e.ty, 'relu'), ['select']);
    }
    // the language's max / min: a >= b ? a : b (ties to the first argument)
    if ((e.fn === 'fmax' || e.fn === 'fmin') && !isVector(e.ty)) {
      const [X, Y] = [reuse(x!, 'x'), reuse(y!, 'y')];
      return emit(X, Y, X, Y, pick(ARITH[e.fn === 'fmax' ? '>=' : '<='], e.ty, e.fn), ['select']);
    }
    const o = INTRINSIC[e.fn]?.[e.ty] ?? fail(`${e.fn} of ${e.ty} (WebAssembly has no such instruction: legalise it first)`);
    emit(...e.args.map(ev), [o]);
  }

  /** Symbols bound or assigned anywhere in a body (its loop variables included). */
  const assignedIn = (body: readonly LStmt[]): Set<Sym> => {
    const s = new Set<Sym>();
    walkStmts(body, (t) => {
      if (t.kind === 'assign' || t.kind === 'let' || t.kind === 'for') s.add(t.v);
    });
    return s;
  };
  /** Does e stay the same while the body runs? (no symbol it reads is assigned there, no load) */
  const invariant = (e: LExpr, assigned: ReadonlySet<Sym>): boolean => {
    let same = true;
    walkExpr(e, (x) => void (same &&= x.kind !== 'load' && !(x.kind === 'var' && assigned.has(x.v))));
    return same;
  };
  const readsIn = (body: readonly LStmt[], s: Sym): boolean => {
    let reads = false;
    walkStmts(body, (t) => stmtExprs(t).forEach((e) => walkExpr(e, (x) => void (reads ||= x.kind === 'var' && x.v === s))));
    return reads;
  };

  function loop(s: Extract<LStmt, { kind: 'for' }>): void {
    if (s.step.kind === 'const' && s.step.value <= 0) fail(`loop ${s.v.name} by step ${s.step.value}`);
    const i = local(s.v);
    const assigned = assignedIn(s.body);
    const nonEmpty = s.nonEmpty === true || isConst(lt(s.lo, s.hi), 1);
    const body = () => statements(s.body);
    if (isConst(s.step, 1) && !readsIn(s.body, s.v) && invariant(s.lo, assigned) && invariant(s.hi, assigned)) {
      // the variable is unread: it counts the trips left, down to 0 (one decrement and branch a trip)
      const guard: Part[] = nonEmpty ? [] : [['block'], ['local.get', i], ['i32.const', 0], ['i32.le_s'], ['br_if', 0]];
      return emit(ev(sub(s.hi, s.lo)), ['local.set', i], ...guard, ['loop'], body, ['local.get', i], ['i32.const', 1], ['i32.sub'], ['local.tee', i], ['br_if', 0], ['end'], ...(nonEmpty ? [] : [['end'] as const]));
    }
    // an invariant bound that is not a local or a constant is computed once (the variant one each trip, as in JavaScript)
    const hi = s.hi.kind !== 'var' && s.hi.kind !== 'const' && invariant(s.hi, assigned) ? reuse(s.hi, `${s.v.name}_end`) : ev(s.hi);
    const guard: Part[] = nonEmpty ? [] : [['block'], ['local.get', i], hi, ['i32.ge_s'], ['br_if', 0]];
    const next: Part[] = [['local.get', i], ev(s.step), ['i32.add'], ['local.tee', i], hi, ['i32.lt_s'], ['br_if', 0]];
    emit(ev(s.lo), ['local.set', i], ...guard, ['loop'], body, ...next, ['end'], ...(nonEmpty ? [] : [['end'] as const]));
  }

  function statements(body: readonly LStmt[]): void {
    for (const s of body) {
      switch (s.kind) {
        case 'for':
          loop(s);
          break;
        case 'let':
          emit(ev(s.init), ['local.set', local(s.v)]);
          break;
        case 'assign':
          emit(ev(s.value), ['local.set', local(s.v)]);
          break;
        case 'store': {
          if (s.buf !== f.mem) fail(`a store into ${s.buf.name}, which is not the module's memory`);
          const offset = address(s.index);
          emit(ev(s.value), [pick(STORE, s.value.ty, 'a store')[0], offset]);
          break;
        }
        case 'if':
          emit(ev(s.cond), ['if'], () => statements(s.then), ...(s.else.length ? [['else'] as const, () => statements(s.else)] : []), ['end']);
          break;
        case 'copy':
          if (s.dst !== f.mem || s.src !== f.mem) fail(`a copy from ${s.src.name} into ${s.dst.name} (only within the memory)`);
          emit(ev(s.dstAt), ev(s.srcAt), ev(s.count), ['memory.copy']);
          break;
        case 'fill':
          fill(s);
          break;
        case 'block':
          statements(s.body);
          break;
        case 'comment':
          break;
        case 'alloc':
        case 'view':
        case 'choose':
        case 'microkernel':
        case 'barrier':
          fail(`the ${s.kind} statement (a micro-kernel function has only its memory)`);
          break;
        default:
          assertNever(s);
      }
    }
  }

  /** bytes [from, to) = value: memory.fill for a byte (or a zero of any type), else a loop of
   * stores of the whole values that fit. */
  function fill(s: Extract<LStmt, { kind: 'fill' }>): void {
    if (s.buf !== f.mem) fail(`a fill of ${s.buf.name}, which is not the module's memory`);
    const byte = s.value.ty === 'i32' || s.value.ty === 'bool';
    if (byte || isConst(s.value, 0)) {
      const from = reuse(s.from, 'from');
      return emit(from, ev(byte ? s.value : c(0)), ev(s.to), from, ['i32.sub'], ['memory.fill']);
    }
    const size = elemBytes(s.value.ty);
    const [p, x] = [sym('p', 'i32'), sym('x', s.value.ty)];
    statements([let_(x, s.value), for_(p, s.from, sub(s.to, c(size - 1)), [store(f.mem, v(p), v(x))], { step: c(size) })]);
  }

  statements(f.body);
  return { params, locals, body: peephole(out) };
}

/** The function as WebAssembly text (for debugging and docs). */
export const printWat = (f: MicroFunction): string => watOf(printWasm(f), f.name);
