// evaluate: the reference interpreter. Runs a checked program on Float64Arrays, statement by
// statement, with zero reads out of range, and 0 absorbing in products and quotients (0·∞ = 0/0 = 0,
// as the IR constructors fold them). It is deliberately plain: every other stage is tested against it.
//
// Worked example: `Y[i] = sum(k) A[i,k]*X[k]` with sizes {I:2, K:3} loops i in [0,2), k in [0,3)
// and reads A at i*3+k; `X[k+5]` (out of range) reads 0 instead of failing.
import { polyEval, printSize, sizeEval, sizeNames, sizeTryEval } from './sizes.js';
import { check } from './check.js';
import { count } from './errors.js';
import { children, freeIndices } from './exprs.js';
import { erf, matrixFunction, SingularMatrixError } from './linalg.js';
import { limitsWith, type Limits } from './limits.js';
import { dataSubscripts, outOfRange } from './dataSubscripts.js';
import { checkElements, checkOperations, elementsOf } from './evaluationCost.js';
import { InputError } from './inputError.js';
import { assertNever, type Builtin, type Expr, type IndexExpr, type Program, type SizeExpr, type Statement } from './types.js';

export type Inputs = Record<string, Float64Array | Float32Array | number | ArrayLike<number>>;

type Fn = (env: Int32Array) => number;

export { InputError };
export { checkElements };

export const BUILTIN_IMPL: Record<Builtin, (...a: number[]) => number> = {
  relu: (x) => (x > 0 ? x : 0),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  abs: Math.abs,
  sin: Math.sin,
  cos: Math.cos,
  softplus: (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))),
  elu: (x, a) => (x > 0 ? x : a! * Math.expm1(x)),
  max: (a, b) => (a >= b ? a : b),
  min: (a, b) => (a <= b ? a : b),
  pow: Math.pow,
  where: (c, a, b) => (c !== 0 ? a! : b!),
  floor: Math.floor,
  ceil: Math.ceil,
  // halves round up (toward +∞), as Math.round does: round(-2.5) = -2
  round: Math.round,
  sign: Math.sign,
  tan: Math.tan,
  atan: Math.atan,
  atan2: Math.atan2,
  asin: Math.asin,
  acos: Math.acos,
  sinh: Math.sinh,
  cosh: Math.cosh,
  asinh: Math.asinh,
  acosh: Math.acosh,
  atanh: Math.atanh,
  erf,
  log2: Math.log2,
  log10: Math.log10,
  cbrt: Math.cbrt,
  clamp: (x, lo, hi) => (x! < lo! ? lo! : x! > hi! ? hi! : x!),
};

/** The program with its named constants set to the given values (`evaluate`'s and `compile`'s
 *  `constants` option); a name that is not a constant of the program is an error. */
export function withConstants(p: Program, given: Record<string, number> | undefined): Program {
  if (!given || Object.keys(given).length === 0) return p;
  const names = p.tensors.filter((t) => t.role === 'constant').map((t) => t.name);
  for (const [k, v] of Object.entries(given)) {
    if (!names.includes(k)) throw new InputError(`${k} is not a constant of the program (constants: ${names.join(', ') || '(none)'})`);
    if (typeof v !== 'number' || Number.isNaN(v)) throw new InputError(`constant ${k} must be a number, got ${String(v)}`);
  }
  return { ...p, tensors: p.tensors.map((t) => (t.role === 'constant' && Object.hasOwn(given, t.name) ? { ...t, value: given[t.name]! } : t)) };
}

/** Sizes: explicit values, then defaults, then whatever the input lengths determine. */
export function resolveSizes(p: Program, inputs: Inputs, given: Record<string, number> = {}): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const s of p.sizes) if (s.default !== undefined) sizes.set(s.name, s.default);
  for (const [k, v] of Object.entries(given)) {
    if (!p.sizes.some((s) => s.name === k)) throw new InputError(`unknown size ${k}: the program's sizes are ${p.sizes.map((s) => s.name).join(', ') || '(none)'}`);
    if (!Number.isInteger(v) || v < 0) throw new InputError(`size ${k} must be a whole number ≥ 0, got ${v}`);
    sizes.set(k, v);
  }
  // Solve single unknown sizes from input lengths: [N, D] with D known and length 12 gives N = 12 / D.
  for (let progress = true; progress; ) {
    progress = false;
    for (const t of p.tensors) {
      if (t.role !== 'input' || !Object.hasOwn(inputs, t.name)) continue;
      const v = inputs[t.name]!;
      if (typeof v === 'number') continue;
      const unknown = [...new Set(t.shape.flatMap(sizeNames))].filter((n) => !sizes.has(n));
      if (unknown.length !== 1) continue;
      const dim = t.shape.find((d) => d.kind === 'poly' && d.poly.size === 1 && d.poly.get(unknown[0]!) === 1);
      if (!dim) continue;
      const rest = t.shape.filter((d) => d !== dim).reduce((acc, d) => acc * sizeEval(d, sizes), 1);
      if (rest > 0 && v.length % rest === 0) {
        sizes.set(unknown[0]!, v.length / rest);
        progress = true;
      }
    }
  }
  return sizes;
}

/** The numeric shape of a tensor for these sizes; every dimension must come out a whole number ≥ 0
 * (compile checks the same way, through this function). */
/** Each program's tensors by name, built once: shapeOf is called for every tensor (10 000 inputs). */
const TENSORS = new WeakMap<Program, Map<string, Program['tensors'][number]>>();

export function shapeOf(p: Program, name: string, sizes: ReadonlyMap<string, number>): number[] {
  let byName = TENSORS.get(p);
  if (!byName) TENSORS.set(p, (byName = new Map(p.tensors.map((x) => [x.name, x] as const))));
  const t = byName.get(name);
  if (!t) throw new Error(`no tensor ${name}`);
  const shape = t.shape.map((d) => {
    const missing = sizeNames(d).filter((n) => !sizes.has(n));
    if (missing.length) throw new InputError(`the size of ${name} needs values for ${missing.join(', ')}: pass them as sizes`);
    try {
      return sizeEval(d, sizes);
    } catch (e) {
      throw new InputError(`the shape of ${name} cannot be computed: ${(e as Error).message} (is a size that divides, like a stride, 0?)`);
    }
  });
  // a negative dimension would otherwise pass silently: [-1, -1] has 1 element
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new InputError(`the shape of ${name} is [${shape.join(', ')}] for these sizes: every dimension must be a whole number ≥ 0`);
  return shape;
}

/** `[3, 4]`, or `[N, 4]` where a size has no value yet: what an input should look like. */
function describeShape(p: Program, name: string, sizes: ReadonlyMap<string, number>): { count: string; shape: string } {
  const dims = p.tensors.find((x) => x.name === name)!.shape.map((d) => sizeTryEval(d, sizes) ?? printSize(d));
  const known = dims.every((d) => typeof d === 'number');
  const count = known ? String((dims as number[]).reduce((a, b) => a * b, 1)) : dims.map((d) => (typeof d === 'number' || /^\w+$/.test(d) ? d : `(${d})`)).join('*');
  return { count, shape: `[${dims.join(', ')}]` };
}

/** Nothing that is not an input: a misspelt name would otherwise be ignored (compile rejects it too). */
function rejectUnknownInputs(p: Program, inputs: Inputs): void {
  const names = p.tensors.filter((t) => t.role === 'input').map((t) => t.name);
  for (const k of Object.keys(inputs)) if (!names.includes(k)) throw new InputError(`${k} is not an input of the program (inputs: ${names.join(', ') || '(none)'})`);
}

/** Every input present, named with the size it should have. */
function rejectMissingInputs(p: Program, inputs: Inputs, sizes: ReadonlyMap<string, number>): void {
  const names = p.tensors.filter((t) => t.role === 'input').map((t) => t.name);
  for (const n of names) {
    // own keys only: an input named toString is not Object.prototype's
    if (Object.hasOwn(inputs, n)) continue;
    const { count, shape } = describeShape(p, n, sizes);
    throw new InputError(`missing input ${n}: expected ${shape === '[]' ? 'a number' : `${count} values`} (shape ${shape})`);
  }
}

interface Slots {
  readonly map: Map<string, number>;
  next: number;
}

class Compiler {
  constructor(
    private readonly data: Map<string, { values: Float64Array; shape: number[] }>,
    private readonly sizes: ReadonlyMap<string, number>,
  ) {}

  index(ix: IndexExpr, slots: Slots): Fn {
    const c0 = polyEval(ix.constant, this.sizes);
    const parts = ix.terms.map((t) => {
      const k = polyEval(t.coef, this.sizes);
      const a = t.atom;
      switch (a.kind) {
        case 'var': {
          const s = slots.map.get(a.name);
          if (s === undefined) throw new Error(`internal: index ${a.name} has no slot`);
          return (env: Int32Array) => k * env[s]!;
        }
        case 'div': {
          const of = this.index(a.of, slots);
          const by = polyEval(a.by, this.sizes);
          return (env: Int32Array) => k * Math.floor(of(env) / by);
        }
        case 'mod': {
          const of = this.index(a.of, slots);
          const by = polyEval(a.by, this.sizes);
          return (env: Int32Array) => k * (((of(env) % by) + by) % by);
        }
        case 'read': {
          // in range: the checker runs each index of a read over the data's own dimension
          const { values, shape } = this.data.get(a.tensor)!;
          const subs = a.subs.map((s) => this.index(s, slots));
          return (env: Int32Array) => {
            let off = 0;
            for (let d = 0; d < subs.length; d++) off = off * shape[d]! + subs[d]!(env);
            return k * values[off]!;
          };
        }
        default:
          return assertNever(a);
      }
    });
    return (env) => {
      let v = c0;
      for (const f of parts) v += f(env);
      return v;
    };
  }

  private bind(names: readonly string[], slots: Slots): number[] {
    return names.map((n) => {
      const s = slots.next++;
      slots.map.set(n, s);
      return s;
    });
  }

  expr(e: Expr, slots: Slots): Fn {
    switch (e.kind) {
      case 'num': {
        const v = e.value;
        return () => v;
      }
      case 'sizeval': {
        const v = sizeEval(e.size, this.sizes);
        return () => v;
      }
      case 'index':
        return this.index(e.expr, slots);
      case 'access': {
        const t = this.data.get(e.tensor);
        if (!t) throw new Error(`internal: tensor ${e.tensor} has no value`);
        const { values, shape } = t;
        const subs = e.subs.map((s) => this.index(s, slots));
        if (subs.length === 0) return () => values[0]!;
        return (env) => {
          let off = 0;
          for (let d = 0; d < subs.length; d++) {
            const i = subs[d]!(env);
            if (i < 0 || i >= shape[d]!) return 0; // zero padding
            off = off * shape[d]! + i;
          }
          return values[off]!;
        };
      }
      case 'delta': {
        const a = this.index(e.a, slots);
        const b = this.index(e.b, slots);
        return (env) => (a(env) === b(env) ? 1 : 0);
      }
      case 'add': {
        const ts = e.terms.map((t) => this.expr(t, slots));
        return (env) => {
          let s = 0;
          for (const t of ts) s += t(env);
          return s;
        };
      }
      case 'mul': {
        // 0 absorbs, as in the IR constructors (mul(0, x) = 0): a guard that is 0 masks out the rest
        // of its term even where that term reads padding and divides by it
        const fs = e.factors.map((t) => this.expr(t, slots));
        return (env) => {
          let s = 1;
          for (const f of fs) {
            const v = f(env);
            if (v === 0) return 0;
            s *= v;
          }
          return s;
        };
      }
      case 'div': {
        // 0/x = 0, as div(0, x) folds
        const a = this.expr(e.num, slots);
        const b = this.expr(e.den, slots);
        return (env) => {
          const n = a(env);
          return n === 0 ? 0 : n / b(env);
        };
      }
      case 'pow': {
        const a = this.expr(e.base, slots);
        const b = this.expr(e.exp, slots);
        return (env) => Math.pow(a(env), b(env));
      }
      case 'neg': {
        const a = this.expr(e.arg, slots);
        return (env) => -a(env);
      }
      case 'compare': {
        const a = this.expr(e.a, slots);
        const b = this.expr(e.b, slots);
        switch (e.op) {
          case '>':
            return (env) => (a(env) > b(env) ? 1 : 0);
          case '<':
            return (env) => (a(env) < b(env) ? 1 : 0);
          case '>=':
            return (env) => (a(env) >= b(env) ? 1 : 0);
          case '<=':
            return (env) => (a(env) <= b(env) ? 1 : 0);
          case '==':
            return (env) => (a(env) === b(env) ? 1 : 0);
          case '!=':
            return (env) => (a(env) !== b(env) ? 1 : 0);
          default:
            return assertNever(e as never);
        }
      }
      case 'call': {
        const f = BUILTIN_IMPL[e.fn];
        const args = e.args.map((a) => this.expr(a, slots));
        if (args.length === 1) {
          const a0 = args[0]!;
          return (env) => f(a0(env));
        }
        return (env) => f(...args.map((a) => a(env)));
      }
      case 'reduce': {
        const ext = e.indices.map((b) => sizeEval(b.extent, this.sizes));
        const ss = this.bind(
          e.indices.map((b) => b.name),
          slots,
        );
        const body = this.expr(e.body, slots);
        const visit = (env: Int32Array, each: (v: number) => void) => {
          const rec = (d: number) => {
            if (d === ss.length) {
              each(body(env));
              return;
            }
            for (let i = 0; i < ext[d]!; i++) {
              env[ss[d]!] = i;
              rec(d + 1);
            }
          };
          rec(0);
        };
        const count = ext.reduce((a, b) => a * b, 1);
        switch (e.op) {
          case 'sum':
            return (env) => {
              let s = 0;
              visit(env, (v) => (s += v));
              return s;
            };
          case 'prod':
            // the product of no terms is 1
            return (env) => {
              let s = 1;
              visit(env, (v) => (s *= v));
              return s;
            };
          case 'mean':
            return (env) => {
              let s = 0;
              visit(env, (v) => (s += v));
              return count ? s / count : 0;
            };
          case 'max':
          case 'min': {
            // start from the identity (-∞ for max, +∞ for min: the value over no terms); a value
            // replaces the best only when strictly better, so ties keep the first and NaN never wins
            const better = e.op === 'max' ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
            return (env) => {
              let best = e.op === 'max' ? -Infinity : Infinity;
              visit(env, (v) => {
                if (better(v, best)) best = v;
              });
              return best;
            };
          }
          case 'logsumexp':
            return (env) => {
              let m = -Infinity;
              visit(env, (v) => (m = v > m ? v : m));
              if (m === -Infinity) return m;
              let s = 0;
              visit(env, (v) => (s += Math.exp(v - m)));
              return m + Math.log(s);
            };
          default:
            return assertNever(e as never);
        }
      }
      case 'argmax': {
        const ext = e.indices.map((b) => sizeEval(b.extent, this.sizes));
        const at = e.at.map((a) => this.index(a, slots));
        const ss = this.bind(
          e.indices.map((b) => b.name),
          slots,
        );
        const body = this.expr(e.body, slots);
        const better = e.op === 'max' ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
        return (env) => {
          const target = at.map((f) => f(env));
          for (let d = 0; d < ext.length; d++) if (target[d]! < 0 || target[d]! >= ext[d]!) return 0;
          // as the reduction: the first position, unless a later value is strictly better
          let best = e.op === 'max' ? -Infinity : Infinity;
          let bestPos: number[] = ss.map(() => 0);
          const rec = (d: number) => {
            if (d === ss.length) {
              const v = body(env);
              if (better(v, best)) {
                best = v;
                bestPos = ss.map((s) => env[s]!);
              }
              return;
            }
            for (let i = 0; i < ext[d]!; i++) {
              env[ss[d]!] = i;
              rec(d + 1);
            }
          };
          rec(0);
          return bestPos.every((v, d) => v === target[d]) && bestPos.length === target.length ? 1 : 0;
        };
      }
      case 'matfn': {
        const n = sizeEval(e.indices[0]!.extent, this.sizes);
        const outer = freeIndices({ ...e, at: [] }).map((f) => slots.map.get(f)!);
        const [p, q] = this.bind(
          e.indices.map((b) => b.name),
          slots,
        ) as [number, number];
        const body = this.expr(e.body, slots);
        const at = e.at.map((a) => this.index(a, slots));
        const what = matrixName(e);
        // the matrix and its function, kept for the last values of the indices it depends on (most
        // often none: one factorisation for the whole statement)
        let lastKey: string | undefined;
        let value: Float64Array = new Float64Array(0);
        const compute = (env: Int32Array) => {
          const key = outer.map((s) => env[s]).join(',');
          if (key === lastKey) return value;
          const m = new Float64Array(n * n);
          for (let i = 0; i < n; i++)
            for (let j = 0; j < n; j++) {
              env[p] = i;
              env[q] = j;
              m[i * n + j] = body(env);
            }
          try {
            value = matrixFunction(e.fn, m, n, what);
          } catch (err) {
            if (err instanceof SingularMatrixError) throw new InputError(err.message);
            throw err;
          }
          lastKey = key;
          return value;
        };
        if (e.fn !== 'inv') return (env) => compute(env)[0]!;
        const [a, b] = at as [Fn, Fn];
        return (env) => {
          const i = a(env);
          const j = b(env);
          // outside the matrix: 0, as any read out of range
          return i < 0 || i >= n || j < 0 || j >= n ? 0 : compute(env)[i * n + j]!;
        };
      }
      default:
        return assertNever(e);
    }
  }
}

/** `inv(A)` or `inv(p:N, q:N) …`, for a message about the matrix. */
function matrixName(e: Extract<Expr, { kind: 'matfn' }>): string {
  const b = e.body;
  return b.kind === 'access' ? `${e.fn}(${b.tensor})` : `${e.fn}(…)`;
}

function toArray(name: string, v: Inputs[string], expected: number, int: boolean): Float64Array {
  if (typeof v === 'number') {
    if (expected !== 1) throw new InputError(`input ${name} must have ${expected} elements, got a number`);
    v = [v];
  }
  if (v.length !== expected) throw new InputError(`input ${name} must have ${expected} elements, got ${v.length}`);
  const out = Float64Array.from(v as ArrayLike<number>);
  const bad = int ? out.findIndex((x) => !Number.isSafeInteger(x)) : -1;
  if (bad >= 0) throw new InputError(`input ${name} is integer data (declared int), but its element ${bad} is ${out[bad]}`);
  return out;
}

/** Every element of the data a statement subscripts through lies in the dimension it subscripts
 *  (an InputError with the statement, the element and its value; the WebGPU runtime's too). */
export function checkData(s: Statement, data: ReadonlyMap<string, { values: Float64Array; shape: number[] }>, shapes: ReadonlyMap<string, readonly number[]>, sizes: ReadonlyMap<string, number>): void {
  for (const d of dataSubscripts(s)) {
    const { values, shape } = data.get(d.data)!;
    const hi = shapes.get(d.tensor)![d.dim]!;
    const c = polyEval(d.offset, sizes);
    values.forEach((token, j) => {
      const value = token + c;
      if (value >= 0 && value < hi) return;
      const pos = shape.map((_, k) => Math.floor(j / shape.slice(k + 1).reduce((a, b) => a * b, 1)) % shape[k]!);
      throw new InputError(outOfRange(s.tensor, d, { pos: pos.map(String), token: String(token), value: String(value), hi: String(hi) }));
    });
  }
}

/** Run a checked program. Returns every assigned tensor. */
export function run(p: Program, inputs: Inputs, givenSizes: Record<string, number> = {}, limits: Limits = {}): Record<string, Float64Array> {
  const { maxElements, maxOperations } = limitsWith(limits);
  const sizes = resolveSizes(p, inputs, givenSizes);
  rejectMissingInputs(p, inputs, sizes);
  const shapes = new Map(p.tensors.map((t) => [t.name, shapeOf(p, t.name, sizes)] as const));
  checkElements(p, shapes, maxElements);
  checkOperations(p, shapes, sizes, maxOperations);
  const data = new Map<string, { values: Float64Array; shape: number[] }>();
  for (const t of p.tensors) {
    if (t.role === 'constant') data.set(t.name, { values: Float64Array.of(t.value!), shape: [] });
    if (t.role !== 'input') continue;
    const shape = shapes.get(t.name)!;
    data.set(t.name, { values: toArray(t.name, inputs[t.name]!, elementsOf(shape), t.elem === 'int'), shape });
  }
  const compiler = new Compiler(data, sizes);
  const out = new Map<string, Float64Array>();
  for (const s of p.statements) {
    checkData(s, data, shapes, sizes);
    if (s.scatter) {
      scatterAdd(s, compiler, data.get(s.tensor)!, sizes);
      continue;
    }
    const shape = shapes.get(s.tensor)!;
    const values = new Float64Array(shape.reduce((a, b) => a * b, 1));
    const slots: Slots = { map: new Map(), next: 0 };
    const lhsSlots = s.lhs.map((b) => {
      const k = slots.next++;
      slots.map.set(b.name, k);
      return k;
    });
    const body = compiler.expr(s.rhs, slots);
    const env = new Int32Array(Math.max(1, slots.next));
    let off = 0;
    const rec = (d: number) => {
      if (d === lhsSlots.length) {
        values[off++] = body(env);
        return;
      }
      for (let i = 0; i < shape[d]!; i++) {
        env[lhsSlots[d]!] = i;
        rec(d + 1);
      }
    };
    rec(0);
    data.set(s.tensor, { values, shape });
    out.set(s.tensor, values);
  }
  // a plain record whose own keys are the tensors (fromEntries defines __proto__ as one of them)
  return Object.fromEntries(out);
}


/** T[at] += rhs for every value of the loop indices, in row-major order (its elements in place). */
function scatterAdd(s: Statement, compiler: Compiler, into: { values: Float64Array; shape: number[] }, sizes: ReadonlyMap<string, number>): void {
  const slots: Slots = { map: new Map(s.lhs.map((b, k) => [b.name, k] as const)), next: s.lhs.length };
  const at = s.scatter!.at.map((x) => compiler.index(x, slots));
  const body = compiler.expr(s.rhs, slots);
  const env = new Int32Array(Math.max(1, slots.next));
  const extents = s.lhs.map((b) => sizeEval(b.extent, sizes));
  const rec = (d: number) => {
    if (d < extents.length) {
      for (let i = 0; i < extents[d]!; i++) {
        env[d] = i;
        rec(d + 1);
      }
      return;
    }
    let off = 0;
    for (let k = 0; k < at.length; k++) {
      const i = at[k]!(env);
      // a plain subscript past the tensor (a padded position) adds nothing; data ones are checked
      if (i < 0 || i >= into.shape[k]!) return;
      off = off * into.shape[k]! + i;
    }
    into.values[off]! += body(env);
  };
  rec(0);
}

/** The library's reference interpreter: every assigned tensor, as Float64Array. `limits` raises the
 *  bounds on the program (check's) and on the evaluation: maxElements of all tensors together,
 *  maxOperations (limits.ts). */
export function evaluate(source: string, inputs: Inputs, opts: { sizes?: Record<string, number>; constants?: Record<string, number>; limits?: Limits } = {}): Record<string, Float64Array> {
  const p = withConstants(check(source, opts.limits), opts.constants);
  // here, not in run: internal callers pass the seeds of every output, read or not
  rejectUnknownInputs(p, inputs);
  return run(p, inputs, opts.sizes ?? {}, opts.limits);
}
