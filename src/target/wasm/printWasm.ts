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
// it cannot print (a buffer other than the memory, a scratch allocation) is an `internal:` error.
//
// Whole kernels print the same way (printKernelWasm.ts): each tensor is a region of the memory
// whose byte address is a parameter, so load(X, i) reads at X_at + 8·i; the language's functions
// that WebAssembly lacks (exp, log, tanh …) are calls of the host's Math functions, imported (exp of
// float32 lanes is computed in place: expLanes.ts); a
// select whose arm reads memory runs as an if, as JavaScript's ?: does (the read may be out of range
// where the condition fails); and a `vectorized` loop is lowered here by its plan (vectorizeLoops.ts):
// a main loop over L lanes, then the scalar loop from where it stopped.
import { add, c, for_, isConst, let_, lt, mul, readsMemory, store, sub, sym, v } from '../../loop/build.js';
import { stmtExprs, walkExpr, walkStmts } from '../../loop/mapLoop.js';
import { assertNever, elemBytes, isVector, laneOf, type Buf, type Intrinsic, type LExpr, type LStmt, type MicroFunction, type Sym, type Ty } from '../../loop/types.js';
import { vectorPlan, type VectorPlan } from '../../opt/vectorizeLoops.js';
import { Namer } from '../names.js';
import { watOf, type Instr, type WasmFunction, type WasmType } from './assembleWasm.js';
import { expLanes } from './expLanes.js';
import { ARITH, CAST, CEIL, COMPARE_LANES, EXTRACT, FLOOR, IMPORTED, INTRINSIC, LOAD, LOAD_SPLAT, NEG, peephole, SPLAT, STORE, WASM_TYPE, type ByTy } from './wasmOps.js';

/** i8x16.shuffle's byte lanes for the even (first) or odd lanes of two vectors, by lane width in bytes */
const lanesOf = (width: 4 | 8, first: 0 | 1): string =>
  Array.from({ length: 16 / width }, (_, l) => 2 * l + first)
    .flatMap((l) => Array.from({ length: width }, (_, b) => l * width + b))
    .join(' ');
const SHUFFLE = { evens: { 4: lanesOf(4, 0), 8: lanesOf(8, 0) }, odds: { 4: lanesOf(4, 1), 8: lanesOf(8, 1) } } as const;

/** the byte lanes of the shuffles interleaving two vectors' lanes (a0 b0 a1 b1, then a2 b2 a3 b3;
 *  f64x2: a0 b0, then a1 b1): the lanes of a are 0…15, those of b 16…31 */
const INTERLEAVE: Record<4 | 8, readonly [string, string]> = {
  4: [
    [0, 4, 1, 5].flatMap((l) => [0, 1, 2, 3].map((b) => l * 4 + b)).join(' '),
    [2, 6, 3, 7].flatMap((l) => [0, 1, 2, 3].map((b) => l * 4 + b)).join(' '),
  ],
  8: [
    [0, 2].flatMap((l) => [0, 1, 2, 3, 4, 5, 6, 7].map((b) => l * 8 + b)).join(' '),
    [1, 3].flatMap((l) => [0, 1, 2, 3, 4, 5, 6, 7].map((b) => l * 8 + b)).join(' '),
  ],
};

/** An instruction, or an emitter of a value's instructions (an operand). */
type Part = Instr | (() => void);

/** Where a buffer lives in the memory: the local holding its byte address (none: the memory itself,
 * addressed in bytes) and its element size. */
export interface Placement {
  readonly base?: Sym;
  readonly scale: number;
}

/** Bytes before and between a kernel's tensors in the memory: `X[p + k]` folds k into the access's
 * constant offset when k elements are at most this many bytes (p + k ≥ 0, so X_at + p·8 ≥ X_at − 64 ≥ 0). */
export const SLACK = 64;

export interface PrintOptions {
  readonly name: string;
  readonly params: readonly Sym[];
  readonly body: readonly LStmt[];
  readonly place: (buf: Buf) => Placement | undefined;
  /** the kernel's float type: the lanes of its vectorized loops */
  readonly F?: 'f32' | 'f64';
}

/** The function as the assembler's instructions; its parameters are i32 locals like any other. */
export function printWasm(f: MicroFunction): WasmFunction {
  return printFunction({ name: f.name, params: f.params, body: f.body, place: (b) => (b === f.mem ? { scale: 1 } : undefined) }).fn;
}

/** The instructions, and the imported functions they call (`Math.exp` …). */
export function printFunction(o: PrintOptions): { fn: WasmFunction; imports: Set<string> } {
  const f = { name: o.name };
  const imports = new Set<string>();
  const namer = new Namer({ reserved: new Set(), dollar: false });
  const locals: [string, WasmType][] = [];
  const declared = new Map<Sym, string>();
  const params = o.params.map((p): [string, WasmType] => {
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
  /** locals set once at the function's start (constant vectors of expLanes) */
  const prelude: Instr[] = [];
  const splats = new Map<string, string>();
  const splatLocal = (value: number, int = false): string => {
    const key = `${int ? 'i32x4' : 'f32x4'} ${value}`;
    let n = splats.get(key);
    if (n === undefined) {
      n = scratch('k', 'f32x4');
      splats.set(key, n);
      prelude.push([int ? 'i32.const' : 'f32.const', value], [int ? 'i32x4.splat' : 'f32x4.splat'], ['local.set', n]);
    }
    return n;
  };

  /** An emitter of e's value, to use more than once: e itself when it is a local or a constant,
   * else a scratch local it is stored in now. */
  const reuse = (e: LExpr, hint: string): (() => void) => {
    if (e.kind === 'var' || e.kind === 'const') return ev(e);
    const t = scratch(hint, e.ty);
    emit(ev(e), ['local.set', t]);
    return () => emit(['local.get', t]);
  };

  const placeOf = (buf: Buf, what: string): Placement => o.place(buf) ?? fail(`${what} ${buf.name}, which is not the module's memory`);
  /** Emits an address's non-constant part and returns its constant part, the memarg offset:
   * p + 16 → local.get p, offset 16 (the base is an address itself, ≥ 0, as pointer arithmetic gives);
   * a tensor's element i + k → X_at + i·8, offset 8k (within the slack around it). */
  const address = (buf: Buf, index: LExpr, what: string, fold = true): number => {
    const { base, scale } = placeOf(buf, what);
    const k = index.kind === 'binary' && index.op === '+' && index.b.kind === 'const' ? index.b.value * scale : 0;
    const folded = fold && k > 0 && k < 2 ** 31 && (base === undefined || k <= SLACK);
    const rest = folded ? (index as Extract<LExpr, { kind: 'binary' }>).a : index;
    if (base === undefined) emit(ev(rest));
    else if (isConst(rest, 0)) emit(['local.get', local(base)]);
    else emit(['local.get', local(base)], ev(rest), ['i32.const', scale], ['i32.mul'], ['i32.add']);
    return folded ? k : 0;
  };
  const memoryLoad = (e: Extract<LExpr, { kind: 'load' }>, what: string): number => {
    if (!e.inBounds && o.place(e.buf)?.base === undefined) fail(`${what} ${e.buf.name} not known to be in bounds`);
    return address(e.buf, e.index, what);
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
        if (placeOf(e.buf, 'the length of').base !== undefined) fail(`the length of ${e.buf.name}`);
        // pages of 64 KiB, in bytes
        return emit(['memory.size'], ['i32.const', 16], ['i32.shl']);
      case 'load': {
        const offset = memoryLoad(e, 'a load of');
        return emit([pick(LOAD, e.ty, 'a load')[0], offset]);
      }
      case 'unary':
        return unary(e);
      case 'binary':
        return binary(e);
      case 'select':
        // lane by lane under a mask
        if (e.cond.ty === 'i32x4') return isConst(e.else, 0) ? emit(ev(e.then), ev(e.cond), ['v128.and']) : emit(ev(e.then), ev(e.else), ev(e.cond), ['v128.bitselect']);
        // an arm that reads memory runs only where it is chosen: the read may be out of range elsewhere
        if (readsMemory(e.then) || readsMemory(e.else)) return emit(ev(e.cond), ['if', WASM_TYPE[e.ty]], ev(e.then), ['else'], ev(e.else), ['end']);
        // else both arms are evaluated: fine, the loop IR's expressions are pure
        return emit(ev(e.then), ev(e.else), ev(e.cond), ['select']);
      case 'call':
        return call(e);
      case 'claim':
        // chooseTarget keeps a kernel that claims in JavaScript
        throw new Error('internal: a claim in a WebAssembly kernel');
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
        return emit(ev(e.a), [e.ty === 'i32x4' ? 'v128.not' : 'i32.eqz']);
      case 'cast': {
        const ops = CAST[`${e.a.ty}>${e.ty}`] ?? fail(`a cast of ${e.a.ty} to ${e.ty}`);
        return emit(ev(e.a), ...ops.map((o): Instr => [o]));
      }
      case 'hsum': {
        if (!isVector(e.a.ty)) return fail(`hsum of ${e.a.ty}`);
        const x = reuse(e.a, 'x');
        const lanes = e.a.ty === 'f64x2' ? 2 : 4;
        emit(x, [EXTRACT[e.a.ty], 0]);
        for (let l = 1; l < lanes; l++) emit(x, [EXTRACT[e.a.ty], l], pick(ARITH['+'], laneOf(e.a.ty), 'hsum'));
        return;
      }
      case 'floor':
      case 'ceil':
        return emit(ev(e.a), pick(op === 'floor' ? FLOOR : CEIL, e.ty, op));
      case 'splat': {
        if (!isVector(e.ty)) return fail(`a splat to ${e.ty}`);
        if (e.a.kind !== 'load') return emit(ev(e.a), [SPLAT[e.ty]]);
        // a lane read straight into every lane
        const offset = memoryLoad(e.a, 'a splat load of');
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
    // lane masks: comparisons of vectors, and && || of masks
    if (op === 'evens' || op === 'odds') return emit(ev(a), ev(b), ['i8x16.shuffle', SHUFFLE[op][e.ty === 'f64x2' ? 8 : 4]]);
    if (op === 'interleaveLo' || op === 'interleaveHi') return emit(ev(a), ev(b), ['i8x16.shuffle', INTERLEAVE[e.ty === 'f64x2' ? 8 : 4][op === 'interleaveLo' ? 0 : 1]]);
    if (e.ty === 'i32x4' && (op === '&&' || op === '||')) return emit(ev(a), ev(b), [op === '&&' ? 'v128.and' : 'v128.or']);
    if (e.ty === 'i32x4' && isVector(a.ty) && (a.ty !== 'i32x4' || COMPARE_LANES[op] !== undefined)) return emit(ev(a), ev(b), pick(COMPARE_LANES[op], a.ty, op));
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
    const ty = e.ty;
    const zero = () => constant(0, ty);
    const one = () => constant(1, ty);
    const vector = isVector(ty);
    // x > 0 ? x : 0 (relu(NaN) = 0); lanes: a mask
    if (e.fn === 'relu') {
      const X = reuse(x!, 'x');
      return vector ? emit(X, zero, X, zero, pick(COMPARE_LANES['>'], ty, 'relu'), ['v128.bitselect']) : emit(X, zero, X, zero, pick(ARITH['>'], ty, 'relu'), ['select']);
    }
    // the language's max / min: a >= b ? a : b (ties to the first argument)
    if (e.fn === 'fmax' || e.fn === 'fmin') {
      const [X, Y] = [reuse(x!, 'x'), reuse(y!, 'y')];
      const test = e.fn === 'fmax' ? '>=' : '<=';
      return vector ? emit(X, Y, X, Y, pick(COMPARE_LANES[test], ty, e.fn), ['v128.bitselect']) : emit(X, Y, X, Y, pick(ARITH[test], ty, e.fn), ['select']);
    }
    // x² as x·x (what Math.pow gives for an exponent of 2)
    if (e.fn === 'pow' && isConst(y!, 2)) {
      const X = reuse(x!, 'x');
      return emit(X, X, pick(ARITH['*'], ty, 'pow'));
    }
    const native = INTRINSIC[e.fn]?.[ty];
    if (native) return emit(...e.args.map(ev), [native]);
    if (e.fn === 'exp' && ty === 'f32x4') return expLanes(ev(x!), { emit, scratch: (hint) => scratch(hint, 'f32x4'), splat: splatLocal });
    if (vector) return fail(`${e.fn} of ${ty}`);
    const neg = (X: () => void) => () => emit(X, pick(NEG, ty, 'neg'));
    // sigmoid(x) = 1 / (1 + exp(−x)), as the JavaScript helper computes it
    if (e.fn === 'sigmoid') return emit(one, one, () => host('exp', [neg(ev(x!))], ty), pick(ARITH['+'], ty, 'sigmoid'), pick(ARITH['/'], ty, 'sigmoid'));
    // softplus(x) = x > 0 ? x + log1p(exp(−x)) : log1p(exp(x))
    if (e.fn === 'softplus') {
      const X = reuse(x!, 'x');
      const l = (arg: () => void) => () => host('log1p', [() => host('exp', [arg], ty)], ty);
      return emit(X, l(neg(X)), pick(ARITH['+'], ty, 'softplus'), l(X), X, zero, pick(ARITH['>'], ty, 'softplus'), ['select']);
    }
    // elu(x, a) = x > 0 ? x : a · expm1(x)
    if (e.fn === 'elu') {
      const X = reuse(x!, 'x');
      return emit(X, ev(y!), () => host('expm1', [X], ty), pick(ARITH['*'], ty, 'elu'), X, zero, pick(ARITH['>'], ty, 'elu'), ['select']);
    }
    host(e.fn, e.args.map(ev), ty);
  }

  /** A call of the host's Math function (float64; a float32 argument is widened, the result narrowed). */
  function host(fn: Intrinsic, args: readonly (() => void)[], ty: Ty): void {
    const name = IMPORTED[fn] ?? fail(`${fn} of ${ty}`);
    imports.add(name);
    for (const a of args) emit(a, ...(ty === 'f32' ? [['f64.promote_f32'] as const] : []));
    emit(['call', name], ...(ty === 'f32' ? [['f32.demote_f64'] as const] : []));
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

  /** A vectorized loop: L iterations a trip while L remain, then the scalar loop from there. */
  function vectorLoop(s: Extract<LStmt, { kind: 'for' }>, plan: VectorPlan): void {
    const i = local(s.v);
    const hi = s.hi.kind !== 'var' && s.hi.kind !== 'const' ? reuse(s.hi, `${s.v.name}_end`) : ev(s.hi);
    const L = plan.lanes;
    const stop = (depth: number): Part[] => [['local.get', i], ['i32.const', L], ['i32.add'], hi, ['i32.gt_s'], ['br_if', depth]];
    // no trip of L lanes: neither the set-up (partial sums, hoisted splats) nor the sums' end runs
    emit(ev(s.lo), ['local.set', i], ['block'], ...stop(0), () => statements(plan.pre));
    emit(['block'], ['loop'], ...stop(1), () => statements(plan.body), ['local.get', i], ['i32.const', L], ['i32.add'], ['local.set', i], ['br', 0], ['end'], ['end']);
    emit(() => statements(plan.post));
    if (plan.overlapTail) {
      // fewer than L left: one more trip over the last L (it rewrites some lanes with the same values)
      const back = sym('back', 'i32');
      const last = sub(s.hi, c(L));
      statements([
        {
          kind: 'if',
          cond: lt(v(s.v), s.hi),
          then: [let_(back, sub(v(s.v), last)), ...plan.steps.map(([p, k]) => ({ kind: 'assign', v: p, value: sub(v(p), mul(c(k), v(back))) }) as LStmt), { kind: 'assign', v: s.v, value: last }, ...plan.body, { kind: 'assign', v: s.v, value: add(v(s.v), c(L)) }],
          else: [],
        },
      ]);
    }
    emit(['end']);
    loop({ kind: 'for', v: s.v, lo: v(s.v), hi: s.hi, step: s.step, loop: 'serial', body: s.body });
  }

  function statements(body: readonly LStmt[]): void {
    for (const s of body) {
      switch (s.kind) {
        case 'for': {
          const plan = s.loop === 'vectorized' && o.F ? vectorPlan(s, o.F) : undefined;
          if (plan) vectorLoop(s, plan);
          else loop(s);
          break;
        }
        case 'let':
          emit(ev(s.init), ['local.set', local(s.v)]);
          break;
        case 'assign':
          emit(ev(s.value), ['local.set', local(s.v)]);
          break;
        case 'store': {
          const offset = address(s.buf, s.index, 'a store into');
          emit(ev(s.value), [pick(STORE, s.value.ty, 'a store')[0], offset]);
          break;
        }
        case 'if':
          emit(ev(s.cond), ['if'], () => statements(s.then), ...(s.else.length ? [['else'] as const, () => statements(s.else)] : []), ['end']);
          break;
        case 'copy': {
          const scale = placeOf(s.dst, 'a copy into').scale;
          const bytes: Part[] = scale === 1 ? [ev(s.count)] : [ev(s.count), ['i32.const', scale], ['i32.mul']];
          emit(() => void address(s.dst, s.dstAt, 'a copy into', false), () => void address(s.src, s.srcAt, 'a copy from', false), ...bytes, ['memory.copy']);
          break;
        }
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
        case 'linalg':
        case 'barrier':
        case 'fail':
          fail(`the ${s.kind} statement (a WebAssembly function has only its memory)`);
          break;
        default:
          assertNever(s);
      }
    }
  }

  /** buf[from, to) = value: memory.fill for a byte (or a zero of any type), else a loop of
   * stores of the whole values that fit (the memory itself is addressed in bytes). */
  function fill(s: Extract<LStmt, { kind: 'fill' }>): void {
    const { base, scale } = placeOf(s.buf, 'a fill of');
    const byte = s.value.ty === 'i32' || s.value.ty === 'bool';
    if (base === undefined && (byte || isConst(s.value, 0))) {
      const from = reuse(s.from, 'from');
      return emit(from, ev(byte ? s.value : c(0)), ev(s.to), from, ['i32.sub'], ['memory.fill']);
    }
    if (base !== undefined && isConst(s.value, 0)) {
      const from = reuse(s.from, 'from');
      return emit(() => void address(s.buf, s.from, 'a fill of', false), ['i32.const', 0], ev(s.to), from, ['i32.sub'], ['i32.const', scale], ['i32.mul'], ['memory.fill']);
    }
    const size = base === undefined ? elemBytes(s.value.ty) : 1;
    const [p, x] = [sym('p', 'i32'), sym('x', s.value.ty)];
    statements([let_(x, s.value), for_(p, s.from, sub(s.to, c(size - 1)), [store(s.buf, v(p), v(x))], { step: c(size) })]);
  }

  statements(o.body);
  return { fn: { params, locals, body: peephole([...prelude, ...out]) }, imports };
}

/** The function as WebAssembly text (for debugging and docs). */
export const printWat = (f: MicroFunction): string => watOf(printWasm(f), f.name);
