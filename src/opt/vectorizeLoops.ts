// vectorizeLoops: marks the innermost loops of a WebAssembly kernel whose iterations can run as the
// lanes of a 128-bit vector (`vectorized`); vectorPlan is how the WebAssembly printer then lowers
// such a loop — a main loop over L lanes at a time (f32x4: 4, f64x2: 2) and the scalar loop for what
// is left. JavaScript has no vectors: legalise turns the mark back into a serial loop.
//
// Worked example (float32, after strengthReduce), the ReLU backward dX[i] = (Y[i] > 0)·dY[i]:
//   for i in [0, I) { store(dX, $p, cast(f32, load(Y, $p) > 0) * load(dY, $p)); $p = $p + 1 }
// is marked vectorized, and its plan's body is
//   store(dX, $p, select(load<f32x4>(Y, $p) > splat(0), 1, 0) * load<f32x4>(dY, $p)); $p = $p + 4
// (the comparison is a lane mask, its flag select(mask, 1, 0): an and with splat(1)). A sum `acc = acc + e` keeps a
// vector of partial sums `$vacc` and adds its lanes to acc after the main loop.
// A loop qualifies when every index it reads or writes advances by 0 or 1 element a trip (a read at
// one place is splat; a read advancing 2, a pooling window's column, is the even lanes of two loads,
// and X[$p + 1] beside X[$p] the odd lanes of the same two; two stores of every other element side by
// side, at p and p + 1, are two vector stores of their lanes interleaved), every value is a float the
// vector instructions compute (+ − × ÷, min, max, sqrt, abs, relu, x², exp of float32, the language's
// max and min, comparisons and selects of floats; with float32 lanes, comparisons of 32-bit integers
// too, such as a max pool's arg-max record), nothing is stored where the loop also reads (but for one
// read-modify-write of the place a trip stores: a column sum's row, out[p] = out[p] + …), and its body
// has no branch or inner loop. Anything else stays scalar.
import { add, c, peelConstant, sym, varsOf } from '../loop/build.js';
import { exprKey, mapBlocks, stmtExprs, walkExpr } from '../loop/mapLoop.js';
import { assertNever, type Buf, type Kernel, type LExpr, type LStmt, type Sym, type VectorTy } from '../loop/types.js';
import { constantDifference } from './strengthReduce.js';

type For = Extract<LStmt, { kind: 'for' }>;

export interface VectorPlan {
  readonly lanes: number;
  /** before the main loop: the vector partial sums, zero */
  readonly pre: readonly LStmt[];
  /** one trip of the main loop: L iterations at once */
  readonly body: readonly LStmt[];
  /** after it: the partial sums added into their scalar sums */
  readonly post: readonly LStmt[];
  /** with no sum across trips, every trip only stores what it computes from what the loop does not
   * write: the last L iterations can run as one more trip over lanes already done (the printer moves
   * the loop variable back to hi − L and each pointer by its step) instead of the scalar loop */
  readonly overlapTail: boolean;
  /** the pointers the body advances, with their step an iteration */
  readonly steps: readonly (readonly [Sym, number])[];
}

const isInnermost = (s: For) => !s.body.some((t) => t.kind === 'for' || t.kind === 'block' || t.kind === 'if');

export function vectorizeLoops(k: Kernel): Kernel {
  if (k.runs !== 'wasm') return k;
  const body = mapBlocks(k.body, (list) =>
    list.some((s) => s.kind === 'for' && s.loop !== 'vectorized' && isInnermost(s) && vectorPlan(s, k.dtype) !== undefined)
      ? list.map((s): LStmt => (s.kind === 'for' && isInnermost(s) && vectorPlan(s, k.dtype) !== undefined ? { ...s, loop: 'vectorized' } : s))
      : list,
  );
  return body === k.body ? k : { ...k, body };
}

/** The loop's body over L lanes, or undefined when some part of it cannot be computed lane by lane. */
export function vectorPlan(loop: For, F: 'f32' | 'f64'): VectorPlan | undefined {
  if (loop.step.kind !== 'const' || loop.step.value !== 1 || !isInnermost(loop)) return undefined;
  const VT: VectorTy = F === 'f32' ? 'f32x4' : 'f64x2';
  const L = F === 'f32' ? 4 : 2;
  const bound = new Set<Sym>();
  for (const s of loop.body) if (s.kind === 'let') bound.add(s.v);
  // i32 symbols that change from trip to trip, with their step a trip (null: not an affine step)
  const stride = new Map<Sym, number | null>([[loop.v, 1]]);
  const sums = new Map<Sym, Sym>();
  // floats the body binds mutable and assigns: each lane keeps its own (`let acc = 0; acc = acc + …`)
  const privates = new Set<Sym>();
  for (const s of loop.body) {
    if (s.kind !== 'assign') continue;
    const x = s.value;
    // (an integer too with f32 lanes, 4 of each: the arg-max a window's max records)
    if (bound.has(s.v) && (s.v.ty === F || (s.v.ty === 'i32' && F === 'f32'))) privates.add(s.v);
    else if (s.v.ty === 'i32' && x.kind === 'binary' && x.op === '+' && x.a.kind === 'var' && x.a.v === s.v && x.b.kind === 'const') stride.set(s.v, x.b.value);
    else if (s.v.ty === F && !bound.has(s.v) && !sums.has(s.v) && x.kind === 'binary' && x.op === '+' && x.a.kind === 'var' && x.a.v === s.v) sums.set(s.v, sym(`${s.v.name}_v`, VT));
    else return undefined;
  }
  // a pointer advances after every use of it: the lanes are at the trip's start, p, p + 1, …
  const advancedEarly = loop.body.some((s, at) => s.kind === 'assign' && stride.has(s.v) && loop.body.slice(at + 1).some((t) => stmtExprs(t).some((e) => varsOf(e).has(s.v))));
  if (advancedEarly) return undefined;
  const stored = new Set<Buf>();
  const loaded = new Set<Buf>();
  for (const s of loop.body) {
    if (s.kind === 'store') stored.add(s.buf);
    const exprs = s.kind === 'let' ? [s.init] : s.kind === 'assign' ? [s.value] : s.kind === 'store' ? [s.index, s.value] : [];
    for (const e of exprs) walkExpr(e, (x) => void (x.kind === 'load' && loaded.add(x.buf)));
  }
  // a buffer both stored and read: only as one read-modify-write of one place a trip (a column sum's
  // row += …, lowerColumnSum.ts), each lane reading what it then writes
  const updated = new Map<Buf, string>();
  for (const b of [...stored].filter((x) => loaded.has(x))) {
    const writes = loop.body.filter((s): s is Extract<LStmt, { kind: 'store' }> => s.kind === 'store' && s.buf === b);
    const key = exprKey(writes[0]!.index);
    const readsAt = new Set<string>();
    loop.body.forEach((s, at) => {
      const exprs = s.kind === 'let' ? [s.init] : s.kind === 'assign' ? [s.value] : s.kind === 'store' ? [s.index, s.value] : [];
      for (const e of exprs) walkExpr(e, (x) => void (x.kind === 'load' && x.buf === b && readsAt.add(at > loop.body.indexOf(writes[0]!) ? '' : exprKey(x.index))));
    });
    if (writes.length !== 1 || readsAt.size !== 1 || !readsAt.has(key)) return undefined;
    updated.set(b, key);
  }
  // a sum is read only by its own accumulation
  for (const s of loop.body) {
    const exprs = s.kind === 'let' ? [s.init] : s.kind === 'store' ? [s.index, s.value] : s.kind === 'assign' ? [sums.has(s.v) && s.value.kind === 'binary' ? s.value.b : s.value] : [];
    if (exprs.some((e) => [...sums.keys()].some((a) => varsOf(e).has(a)))) return undefined;
  }
  /** the vector (or lane mask) that stands for a let of the body */
  const vecOf = new Map<Sym, Sym>();
  const varying = (e: LExpr): boolean => {
    let out = false;
    walkExpr(e, (x) => void (out ||= (x.kind === 'var' && (stride.has(x.v) || vecOf.has(x.v))) || (x.kind === 'load' && stored.has(x.buf))));
    return out;
  };
  /** the step of an i32 value a trip: 0 when it stays, null when it is not affine in the trip */
  const strideOf = (e: LExpr): number | null => {
    if (!varying(e)) return 0;
    switch (e.kind) {
      case 'var':
        return stride.get(e.v) ?? null;
      case 'binary': {
        const [a, b] = [strideOf(e.a), strideOf(e.b)];
        if (a === null || b === null) return null;
        if (e.op === '+') return a + b;
        if (e.op === '-') return a - b;
        if (e.op === '*' && e.a.kind === 'const') return e.a.value * b;
        if (e.op === '*' && e.b.kind === 'const') return e.b.value * a;
        return null;
      }
      default:
        return null;
    }
  };
  const fresh = (s: Sym, ty: VectorTy | 'i32x4'): Sym => sym(`${s.name}_v`, ty);
  // a value the same every trip is splat once, before the main loop, when it reads nothing the body binds
  const hoisted = new Map<string, Sym>();
  const pre: LStmt[] = [];
  const splat = (e: LExpr): LExpr => {
    if (e.kind === 'const') return c(e.value, VT);
    const lanes: LExpr = { kind: 'unary', ty: VT, op: 'splat', a: e };
    if ([...varsOf(e)].some((s) => bound.has(s))) return lanes;
    const key = exprKey(e);
    let s = hoisted.get(key);
    if (!s) {
      s = sym('$splat', VT);
      hoisted.set(key, s);
      pre.push({ kind: 'let', v: s, init: lanes, mutable: false });
    }
    return { kind: 'var', ty: VT, v: s };
  };
  const MASK_ALL: LExpr = c(-1, 'i32x4');
  const MASK_NONE: LExpr = c(0, 'i32x4');
  /** a bool as a lane mask */
  const mask = (e: LExpr): LExpr | undefined => {
    if (!varying(e)) return { kind: 'select', ty: 'i32x4', cond: e, then: MASK_ALL, else: MASK_NONE };
    switch (e.kind) {
      case 'var': {
        const m = vecOf.get(e.v);
        return m && m.ty === 'i32x4' ? { kind: 'var', ty: 'i32x4', v: m } : undefined;
      }
      case 'binary': {
        if ((e.op === '&&' || e.op === '||') && e.a.ty === 'bool') {
          const [a, b] = [mask(e.a), mask(e.b)];
          return a && b ? { kind: 'binary', ty: 'i32x4', op: e.op, a, b } : undefined;
        }
        // integers of float32 lanes compared (a max pool's arg-max record against a window position)
        if (e.a.ty === 'i32' && F === 'f32' && ['<', '<=', '>', '>=', '==', '!='].includes(e.op)) {
          const [a, b] = [ivec(e.a), ivec(e.b)];
          return a && b && { kind: 'binary', ty: 'i32x4', op: e.op, a, b };
        }
        if (e.a.ty !== F) return undefined;
        const [a, b] = [vec(e.a), vec(e.b)];
        return a && b && ['<', '<=', '>', '>=', '==', '!='].includes(e.op) ? { kind: 'binary', ty: 'i32x4', op: e.op, a, b } : undefined;
      }
      case 'unary': {
        if (e.op !== 'not') return undefined;
        const a = mask(e.a);
        return a && { kind: 'unary', ty: 'i32x4', op: 'not', a };
      }
      default:
        return undefined;
    }
  };
  const body: LStmt[] = [];
  // every other element (a window of stride 2) is the even lanes of two loads; the element after it,
  // when the loop also reads the element before, the odd lanes of the same two loads (let once)
  const readAt = new Set<string>();
  for (const s of loop.body) for (const e of stmtExprs(s)) walkExpr(e, (x) => void (x.kind === 'load' && x.inBounds && readAt.add(`${x.buf.name} ${exprKey(x.index)}`)));
  const pairs = new Map<string, readonly [LExpr, LExpr]>();
  const everyOther = (e: Extract<LExpr, { kind: 'load' }>): LExpr => {
    const { base, k } = peelConstant(e.index);
    const odd = readAt.has(`${e.buf.name} ${exprKey(add(base, c(k - 1)))}`);
    const at = add(base, c(odd ? k - 1 : k));
    const key = `${e.buf.name} ${exprKey(at)}`;
    let pair = pairs.get(key);
    if (!pair) {
      const [lo, hi] = [sym('$lo', VT), sym('$hi', VT)];
      body.push({ kind: 'let', v: lo, init: { ...e, ty: VT, index: at }, mutable: false }, { kind: 'let', v: hi, init: { ...e, ty: VT, index: add(at, c(L)) }, mutable: false });
      pair = [{ kind: 'var', ty: VT, v: lo }, { kind: 'var', ty: VT, v: hi }];
      pairs.set(key, pair);
    }
    return { kind: 'binary', ty: VT, op: odd ? 'odds' : 'evens', a: pair[0], b: pair[1] };
  };
  /** a float of the kernel's type, lane by lane */
  const vec = (e: LExpr): LExpr | undefined => {
    if (e.ty !== F) return undefined;
    if (!varying(e)) return splat(e);
    switch (e.kind) {
      case 'const':
        return splat(e);
      case 'var': {
        const m = vecOf.get(e.v);
        return m && m.ty === VT ? { kind: 'var', ty: VT, v: m } : undefined;
      }
      case 'load': {
        if (!e.inBounds || (stored.has(e.buf) && updated.get(e.buf) !== exprKey(e.index))) return undefined;
        const step = strideOf(e.index);
        if (step === 1) return { ...e, ty: VT };
        if (step === 2) return everyOther(e);
        return undefined;
      }
      case 'unary': {
        if (e.op === 'cast') {
          // a flag as 1 or 0: the mask and splat(1)
          const m = e.a.ty === 'bool' ? mask(e.a) : undefined;
          return m && { kind: 'select', ty: VT, cond: m, then: c(1, VT), else: c(0, VT) };
        }
        if (e.op !== 'neg' && e.op !== 'floor' && e.op !== 'ceil') return undefined;
        const a = vec(e.a);
        return a && { kind: 'unary', ty: VT, op: e.op, a };
      }
      case 'binary': {
        if (!['+', '-', '*', '/', 'min', 'max'].includes(e.op)) return undefined;
        const [a, b] = [vec(e.a), vec(e.b)];
        return a && b && { kind: 'binary', ty: VT, op: e.op, a, b };
      }
      case 'select': {
        const [then, otherwise] = [vec(e.then), vec(e.else)];
        if (!then || !otherwise) return undefined;
        if (!varying(e.cond)) return { ...e, ty: VT, then, else: otherwise };
        const m = mask(e.cond);
        return m && { kind: 'select', ty: VT, cond: m, then, else: otherwise };
      }
      case 'call': {
        const square = e.fn === 'pow' && e.args[1]!.kind === 'const' && e.args[1]!.value === 2;
        // exp of float32 lanes: a polynomial in WebAssembly (target/wasm/expLanes.ts); float64 keeps the host's Math.exp
        const lanes = ['sqrt', 'abs', 'relu', 'fmax', 'fmin'].includes(e.fn) || square || (e.fn === 'exp' && F === 'f32');
        if (!lanes) return undefined;
        const args = e.args.map(vec);
        return args.every((a) => a !== undefined) ? { ...e, ty: VT, args: args as LExpr[] } : undefined;
      }
      default:
        return assertNever(e);
    }
  };
  /** an integer of the body, lane by lane (f32 kernels: i32x4) */
  const ivec = (e: LExpr): LExpr | undefined => {
    if (e.ty !== 'i32' || F !== 'f32') return undefined;
    if (e.kind === 'const') return c(e.value, 'i32x4');
    if (e.kind === 'var' && vecOf.get(e.v)?.ty === 'i32x4' && privates.has(e.v)) return { kind: 'var', ty: 'i32x4', v: vecOf.get(e.v)! };
    // four consecutive 32-bit integers (not bytes: a bool buffer's element is one)
    if (e.kind === 'load' && e.buf.elem === 'i32' && e.inBounds && !stored.has(e.buf) && strideOf(e.index) === 1) return { ...e, ty: 'i32x4' };
    if (e.kind === 'select') {
      const [m, then, otherwise] = [mask(e.cond), ivec(e.then), ivec(e.else)];
      return m && then && otherwise && { kind: 'select', ty: 'i32x4', cond: m, then, else: otherwise };
    }
    return varying(e) ? undefined : { kind: 'unary', ty: 'i32x4', op: 'splat', a: e };
  };
  // the second of two stores side by side that one pair of vector stores writes
  const paired = new Set<LStmt>();
  for (const [at, s] of loop.body.entries()) {
    switch (s.kind) {
      case 'let': {
        if (!varying(s.init) && !privates.has(s.v)) {
          body.push(s);
          break;
        }
        if (s.v.ty === 'i32' && privates.has(s.v)) {
          const x = ivec(s.init);
          if (!x) return undefined;
          const xv = fresh(s.v, 'i32x4');
          vecOf.set(s.v, xv);
          body.push({ kind: 'let', v: xv, init: x, mutable: true });
          break;
        }
        if (s.v.ty === 'i32') {
          const k = strideOf(s.init);
          if (k === null) return undefined;
          stride.set(s.v, k);
          body.push(s);
          break;
        }
        const x = s.v.ty === F ? vec(s.init) : s.v.ty === 'bool' ? mask(s.init) : undefined;
        if (!x) return undefined;
        const xv = fresh(s.v, s.v.ty === F ? VT : 'i32x4');
        vecOf.set(s.v, xv);
        body.push({ kind: 'let', v: xv, init: x, mutable: privates.has(s.v) });
        break;
      }
      case 'assign': {
        const acc = sums.get(s.v);
        const lanes = vecOf.get(s.v);
        if (privates.has(s.v) && lanes) {
          const e = s.v.ty === 'i32' ? ivec(s.value) : vec(s.value);
          if (!e) return undefined;
          body.push({ kind: 'assign', v: lanes, value: e });
        } else if (acc) {
          const e = vec((s.value as Extract<LExpr, { kind: 'binary' }>).b);
          if (!e) return undefined;
          body.push({ kind: 'assign', v: acc, value: { kind: 'binary', ty: VT, op: '+', a: { kind: 'var', ty: VT, v: acc }, b: e } });
        } else {
          const k = stride.get(s.v)!;
          body.push({ kind: 'assign', v: s.v, value: { kind: 'binary', ty: 'i32', op: '+', a: { kind: 'var', ty: 'i32', v: s.v }, b: c(k * L) } });
        }
        break;
      }
      case 'store': {
        if (paired.has(s)) break;
        const value = s.value.ty === 'i32' ? ivec(s.value) : vec(s.value);
        const step = strideOf(s.index);
        if (!value || (step !== 1 && step !== 2)) return undefined;
        if (step === 1) {
          body.push({ ...s, value });
          break;
        }
        // every other element, and the next store fills the ones between (a mean pool's gradient:
        // dX[p] = dY[q]/4; dX[p + 1] = dY[q]/4): the two values' lanes interleaved, two vector stores
        const next = loop.body[at + 1];
        if (s.value.ty !== F || next?.kind !== 'store' || next.buf !== s.buf || constantDifference(next.index, s.index) !== 1) return undefined;
        const second = vec(next.value);
        if (!second) return undefined;
        const lanes = (op: 'interleaveLo' | 'interleaveHi'): LExpr => ({ kind: 'binary', ty: VT, op, a: value, b: second });
        body.push({ ...s, value: lanes('interleaveLo') }, { ...s, index: add(s.index, c(L)), value: lanes('interleaveHi') });
        paired.add(next);
        break;
      }
      case 'comment':
        break;
      default:
        return undefined;
    }
  }
  return {
    lanes: L,
    // a trip over lanes already done would update them twice
    overlapTail: sums.size === 0 && updated.size === 0,
    steps: loop.body.flatMap((s) => (s.kind === 'assign' && !sums.has(s.v) && !privates.has(s.v) ? [[s.v, stride.get(s.v)!] as const] : [])),
    pre: [...pre, ...[...sums.values()].map((a): LStmt => ({ kind: 'let', v: a, init: c(0, VT), mutable: true }))],
    body,
    post: [...sums].map(([s, a]) => ({ kind: 'assign', v: s, value: { kind: 'binary', ty: F, op: '+', a: { kind: 'var', ty: F, v: s }, b: { kind: 'unary', ty: F, op: 'hsum', a: { kind: 'var', ty: VT, v: a } } } })),
  };
}
