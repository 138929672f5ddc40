// operator: a generated kernel module in the Operator style of seed 003 —
// forward(ctx, inputs, sizes) saves what backward needs in ctx; backward(ctx, seeds) returns dX
// for every input (backward(ctx, seeds, { wrt: ['K', 'b'] }): only those).
//
// Worked example:
//   import { conv2d } from 'deltagrad/generated';
//   const ctx = {};
//   const { Y } = conv2d.forward(ctx, { X, K, b }, { N: 32, C: 1, H: 28, W: 28, F: 8, P: 1 });
//   const { dX, dK, db } = conv2d.backward(ctx, { dY });
// Sizes not given take the program's defaults (R=3, S=3, T=1 for the conv).

import type { ModuleInfo } from '../target/module.js';
import { checkSharing } from './sharing.js';

type DataArray = Float64Array;

/** the `program` constant every emitted module exports (emitTs.ts) */
export type ProgramInfo = ModuleInfo;

export interface KernelModule<P extends ProgramInfo> {
  readonly program: P;
  readonly forward: (t: never, s: never) => void;
  readonly backward: (t: never, s: never) => void;
  readonly shapes: (s: never) => Record<string, number[]>;
  /** one kernel per gradient, `backward_dX` (emitTs.ts) */
  readonly [kernel: `backward_${string}`]: unknown;
}

/** What forward keeps for backward. */
export interface OperatorContext {
  tensors?: Record<string, Float64Array | Int32Array>;
  sizes?: Record<string, number>;
}

export interface Operator<P extends ProgramInfo> {
  readonly program: P;
  /** the shape of every tensor for these sizes */
  shapes(sizes: Partial<Record<P['sizes'][number], number>>): Record<string, number[]>;
  /**
   * Runs the forward kernels. `out` may supply output arrays. An output array may be an input's
   * only where `program.inPlace` allows it (an elementwise layer such as sgd updating W); any other
   * sharing of memory between outputs and inputs is an error. The ctx belongs to this operator.
   */
  forward(
    ctx: OperatorContext,
    inputs: { readonly [K in P['inputs'][number]]: DataArray | number },
    sizes?: Partial<Record<P['sizes'][number], number>>,
    out?: Partial<Record<P['outputs'][number] | P['intermediates'][number], DataArray>>,
  ): { [K in P['outputs'][number] | P['intermediates'][number]]: DataArray };
  /**
   * Gradients of every input, or only of those in `wrt` (the others' kernels do not run: the first
   * conv of a network needs dK and db, not dX); a scalar output's seed defaults to 1. One backward
   * per forward: a second one is an error (two layers sharing a ctx), unless the first passed
   * `retain: true`.
   */
  backward<W extends P['inputs'][number] = P['inputs'][number]>(
    ctx: OperatorContext,
    seeds?: Partial<Record<P['seeds'][number], DataArray | number>>,
    opts?: { readonly wrt?: readonly W[]; readonly retain?: boolean },
  ): { [K in `d${W}`]: DataArray };
}

/** What a ctx holds besides its tensors: which operator filled it, whether a backward has used that
 * forward, and which inputs the forward overwrote in place. Kept off the ctx object itself. */
interface Saved {
  readonly owner: object;
  readonly name: string;
  used: boolean;
  readonly overwritten: readonly string[];
}
const saved = new WeakMap<OperatorContext, Saved>();

export function operator<P extends ProgramInfo>(m: KernelModule<P>, name: string): Operator<P> {
  const p = m.program;
  const self = {};
  const ctxOf = (ctx: OperatorContext, call: string): void => {
    if (ctx === null || typeof ctx !== 'object') throw new Error(`${name}.${call}: the first argument is the layer's context, an object such as {} (got ${ctx === null ? 'null' : typeof ctx})`);
    const had = saved.get(ctx);
    if (had && had.owner !== self)
      throw new Error(`${name}.${call}: this ctx holds a forward of ${had.name}, not of ${name}: give each layer a ctx of its own ({})`);
  };
  const resolve = (given: Record<string, number | undefined>) => {
    const s: Record<string, number> = {};
    for (const n of p.sizes) {
      const v = given[n] ?? p.defaults[n];
      if (v === undefined) throw new Error(`${name}: size ${n} is required (sizes: ${p.sizes.join(', ')})`);
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`${name}: size ${n} must be a whole number ≥ 0, got ${String(v)}`);
      s[n] = v;
    }
    for (const k of Object.keys(given)) if (!p.sizes.includes(k)) throw new Error(`${name}: unknown size ${k} (sizes: ${p.sizes.join(', ')})`);
    return s;
  };
  const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  /** shapes for these sizes; a size that divides (a stride T = 0) can make them meaningless */
  const checkedShapes = (s: Record<string, number>) => {
    const shapes = m.shapes(s as never);
    for (const [t, sh] of Object.entries(shapes))
      if (sh.some((d) => !Number.isInteger(d) || d < 0))
        throw new Error(`${name}: the shape of ${t} is [${sh.join(', ')}] for sizes ${JSON.stringify(s)}: every dimension must be a whole number ≥ 0 (is a size that divides, like a stride, 0?)`);
    return shapes;
  };
  const array = (what: string, v: DataArray | number | undefined, shape: number[]): DataArray => {
    const n = count(shape);
    if (v === undefined) throw new Error(`${name}: missing ${what} (a Float64Array of ${n} elements, shape [${shape.join(', ')}])`);
    if (typeof v === 'number') {
      if (n !== 1) throw new Error(`${name}: ${what} must be a Float64Array of ${n} elements (shape [${shape.join(', ')}]), got a number`);
      return Float64Array.of(v);
    }
    if (!(v instanceof Float64Array)) throw new Error(`${name}: ${what} must be a Float64Array, got ${(v as object)?.constructor?.name ?? typeof v}`);
    if (v.length !== n) throw new Error(`${name}: ${what} has ${v.length} elements but shape [${shape.join(', ')}] needs ${n}`);
    return v;
  };
  return {
    program: p,
    shapes: (sizes) => m.shapes(resolve(sizes as Record<string, number>) as never),
    forward(ctx, inputs, sizes = {}, out = {}) {
      ctxOf(ctx, 'forward');
      const s = resolve(sizes as Record<string, number>);
      const shapes = checkedShapes(s);
      if (inputs === null || typeof inputs !== 'object') throw new Error(`${name}: forward takes an object of inputs (${p.inputs.join(', ')})`);
      for (const k of Object.keys(inputs)) if (!p.inputs.includes(k)) throw new Error(`${name}: ${k} is not an input (inputs: ${p.inputs.join(', ')})`);
      for (const k of Object.keys(out)) if (!p.outputs.includes(k) && !p.intermediates.includes(k)) throw new Error(`${name}: ${k} is not an output (outputs: ${[...p.outputs, ...p.intermediates].join(', ')})`);
      const t: Record<string, Float64Array | Int32Array> = {};
      for (const n of p.inputs) t[n] = array(`input ${n}`, (inputs as Record<string, DataArray | number>)[n], shapes[n]!);
      for (const n of [...p.intermediates, ...p.outputs]) {
        const given = (out as Record<string, DataArray | undefined>)[n];
        t[n] = given ? array(`output ${n}`, given, shapes[n]!) : new Float64Array(count(shapes[n]!));
      }
      for (const r of p.records) t[r] = new Int32Array(count(shapes[r.replace(/_argmax$/, '')]!));
      for (const n of p.scratch ?? []) t[n] = new Float64Array(count(shapes[n]!));
      const overwritten = checkSharing(name, p, t, Object.keys(out).filter((k) => (out as Record<string, unknown>)[k] !== undefined));
      m.forward(t as never, s as never);
      ctx.tensors = t;
      ctx.sizes = s;
      saved.set(ctx, { owner: self, name, used: false, overwritten });
      return Object.fromEntries([...p.outputs, ...p.intermediates].map((n) => [n, t[n]])) as never;
    },
    backward(ctx, seeds = {}, opts = {}) {
      ctxOf(ctx, 'backward');
      const state = saved.get(ctx);
      if (!ctx.tensors || !ctx.sizes || !state) throw new Error(`${name}.backward: this ctx holds no forward of ${name}: call ${name}.forward(ctx, …) first`);
      // a second backward of one forward is how two layers sharing a ctx show: the first got the
      // other's saved tensors; `retain: true` says the second is meant
      if (state.used)
        throw new Error(`${name}.backward: this ctx's forward has already been used by a backward. Do two layers share this ctx? Give each layer a ctx of its own ({}); to run backward twice on one forward, pass { retain: true } to the first`);
      const wrt: readonly string[] = opts.wrt ?? p.inputs;
      for (const w of wrt) if (!p.inputs.includes(w)) throw new Error(`${name}: wrt names ${String(w)}, which is not an input (inputs: ${p.inputs.join(', ')})`);
      const s = ctx.sizes;
      const shapes = checkedShapes(s);
      for (const k of Object.keys(seeds)) if (!p.seeds.includes(k)) throw new Error(`${name}: ${k} is not a seed (seeds: ${p.seeds.join(', ')}; a seed is d + an output's name)`);
      const t: Record<string, Float64Array | Int32Array> = { ...ctx.tensors };
      for (const d of p.seeds) {
        const out = d.slice(1);
        const given = (seeds as Record<string, DataArray | number | undefined>)[d];
        t[d] = array(`seed ${d}`, given ?? (shapes[out]!.length === 0 ? 1 : undefined), shapes[out]!);
      }
      // intermediates' gradients feed the inputs'; an input's gradient feeds nothing else
      const wanted = p.gradients.filter((g) => p.intermediates.includes(g.slice(1)) || wrt.includes(g.slice(1)));
      for (const g of wanted) {
        const stale = (p.gradientReads[g] ?? []).filter((x) => state.overwritten.includes(x));
        if (stale.length)
          throw new Error(`${name}.backward: ${g} reads ${stale.join(', ')}, which forward overwrote in place (an output shared its array): pass separate output arrays to forward to differentiate it, or leave ${g.slice(1)} out of wrt`);
      }
      state.used = !opts.retain;
      for (const g of wanted) t[g] = new Float64Array(count(shapes[g.slice(1)]!));
      // the planner's temporaries the wanted gradients read, each once, before the first that reads it
      const temporaries = [...new Set(wanted.flatMap((g) => p.temporaries?.[g] ?? []))];
      for (const n of temporaries) t[n] = new Float64Array(count(shapes[n]!));
      if (wanted.length === p.gradients.length) m.backward(t as never, s as never);
      else {
        const done = new Set<string>();
        for (const g of wanted) {
          for (const n of p.temporaries?.[g] ?? []) if (!done.has(n) && done.add(n)) (m[`backward_${n}`] as (t: never, s: never) => void)(t as never, s as never);
          (m[`backward_${g}`] as (t: never, s: never) => void)(t as never, s as never);
        }
      }
      return Object.fromEntries(wrt.map((n) => [`d${n}`, t[`d${n}`]])) as never;
    },
  };
}
