// lowerToLoops: one statement of the math IR → a loop nest (loop IR) that computes it.
//
// Worked example, conv input gradient (stride T, padding P):
//   dX[n,c,h,w] = sum(f,u,v) K[f,c,h+P-u*T,w+P-v*T]*dY[n,f,u,v]
// becomes loops n, c, h, w over dX; per element a reduction nest f, u, v whose bounds come from the
// zero-padded reads instead of per-element tests: K[…, h+P-u*T, …] is nonzero only for
//   ceil((h+P-(R-1))/T) ≤ u ≤ floor((h+P)/T),
// so u runs over exactly those values (intersected with [0, U)), and every read uses a running
// offset advanced by the loop (`$p1 += $sdY2`, `$p0 -= T*$sK2`) — no index multiplications, no `%`,
// no bounds `if` in the inner loops. Reductions accumulate in locals; a reduction that depends only
// on outer indices (the logsumexp of a softmax row) is computed once, at the outermost loop that
// binds its indices. `optimize: false` gives the naive nest (plain bounds, checked reads, offsets
// recomputed per element), the baseline the benchmarks compare against.
import { idxAsVar, idxKey, idxVar, idxVars } from '../ir/affine.js';
import { children, exprKey, freeIndices, renameIndices, substituteIndex } from '../ir/exprs.js';
import { printExpr } from '../ir/print.js';
import { polyConstValue, sizeEquals, sizeTryEval } from '../ir/sizes.js';
import { assertNever, type Bound, type Expr, type IndexExpr, type Poly, type Program, type SizeExpr, type Statement } from '../ir/types.js';
import type { Code, KernelParam, LoopNode, LoweredKernel } from './loops.js';
import { gemmPrelude, lowerMatmul } from './gemm.js';
import { splitQuotientLoops } from './splitQuotientLoops.js';

export interface LowerOptions {
  readonly optimize: boolean;
  readonly dtype: 'float32' | 'float64';
  /** matmul-shaped statements run their micro-kernel in WebAssembly SIMD (gemm.ts) */
  readonly simd: boolean;
}

/** What the lowering needs to know about the program around a statement. */
export interface LowerContext {
  readonly shapeOf: (tensor: string) => readonly SizeExpr[];
  /** forward statements whose max/min reduction records its arg-max (tensor → statement) */
  readonly recordsArgmax: ReadonlyMap<string, Statement>;
  readonly defaults: ReadonlyMap<string, number>;
  readonly program: Program;
}

export const argmaxName = (tensor: string) => `${tensor}_argmax`;

/** JS for a polynomial in sizes. */
export function polyCode(p: Poly, sizes: Set<string>): Code {
  if (p.size === 0) return '0';
  const parts: string[] = [];
  for (const [mono, v] of p) {
    const names = mono ? mono.split('*') : [];
    names.forEach((n) => sizes.add(n));
    const mag = Math.abs(v);
    const body = names.length === 0 ? String(mag) : mag === 1 ? names.join(' * ') : `${mag} * ${names.join(' * ')}`;
    parts.push(parts.length === 0 ? (v < 0 ? `-${body}` : body) : v < 0 ? ` - ${body}` : ` + ${body}`);
  }
  return parts.join('');
}

export function sizeCode(s: SizeExpr, sizes: Set<string>): Code {
  switch (s.kind) {
    case 'poly':
      return polyCode(s.poly, sizes);
    case 'div':
      return `Math.floor((${sizeCode(s.num, sizes)}) / (${sizeCode(s.den, sizes)}))`;
    case 'sum':
      return s.terms.map((t) => sizeCode(t, sizes)).join(' + ');
    default:
      return assertNever(s);
  }
}

const isIdent = (c: Code) => /^[\w$]+$/.test(c);
export const paren = (c: Code) => (isIdent(c) || /^\d+(\.\d+)?$/.test(c) ? c : `(${c})`);
export const mulCode = (a: Code, b: Code): Code => (a === '0' || b === '0' ? '0' : a === '1' ? b : b === '1' ? a : `${paren(a)} * ${paren(b)}`);
/** `a - P + 1` reads as a + (−P + 1): JavaScript evaluates left to right */
export const addCode = (a: Code, b: Code): Code => (a === '0' ? b : b === '0' ? a : b.startsWith('-') ? `${a} - ${b.slice(1)}` : `${a} + ${b}`);

const FN_PRELUDE: Record<string, string | (() => string)> = {
  // the WebAssembly macro-kernels of the GEMM kernels (gemm.ts), whose memory holds the packed panels
  $gemm32: () => gemmPrelude('float32'),
  $gemm64: () => gemmPrelude('float64'),
  // the packing buffers of the GEMM kernels without SIMD: grown on demand, reused by every call
  $pack32: 'let $pack32 = new Float32Array(0);',
  $pack64: 'let $pack64 = new Float64Array(0);',
  relu: 'const relu = (x: number): number => (x > 0 ? x : 0);',
  sigmoid: 'const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));',
  softplus: 'const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));',
  elu: 'const elu = (x: number, a: number): number => (x > 0 ? x : a * Math.expm1(x));',
  max: 'const max = (a: number, b: number): number => (a >= b ? a : b);',
  min: 'const min = (a: number, b: number): number => (a <= b ? a : b);',
};
export const preludeFor = (fns: Iterable<string>): string[] =>
  [...new Set(fns)].sort().flatMap((f) => {
    // copies of tensors with a padded stride (restrided reads of the tiled kernels), one per tensor of a kernel
    const copy = /^\$copy(32|64)_\d+$/.exec(f);
    if (copy) return [`let ${f} = new Float${copy[1]}Array(0);`];
    const text = FN_PRELUDE[f];
    return text === undefined ? [] : [typeof text === 'function' ? text() : text];
  });

/** Constraint 0 ≤ coef·v + rest < dim, from a zero-padded read or a range guard. */
interface Constraint {
  readonly v: string;
  readonly coef: number | Poly; // numeric, or a positive size polynomial
  readonly rest: IndexExpr;
  /** the dimension (upper bound); undefined for a guard q ≥ 0 with no upper bound */
  readonly dim?: SizeExpr;
  /** which sides hold: a read is 0 outside [0, dim); a guard q ≥ 0 or q < E holds one side only */
  readonly sides?: 'both' | 'lower' | 'upper';
  /** the read it came from, proven in range once applied */
  readonly source?: string;
}

export class Lowerer {
  private n = 0;
  readonly sizes = new Set<string>();
  readonly tensors = new Map<string, KernelParam>();
  readonly fns = new Set<string>();
  /** hoisted per-kernel constants: name → code (dims and strides) */
  private readonly consts = new Map<string, Code>();
  private readonly constOrder: string[] = [];

  /** reads to take from a copy with one dimension's stride padded (see `restrideCopies`) */
  readonly restrided: ReadonlyMap<string, number>;
  /** what the tiled path found worth restriding: lowerStatement lowers again with these */
  readonly restrideWanted = new Map<string, number>();

  constructor(
    private readonly ctx: LowerContext,
    private readonly opts: LowerOptions,
    restrided: ReadonlyMap<string, number> = new Map(),
  ) {
    this.restrided = restrided;
  }

  /** The array a tensor is read from: itself, or its restrided copy. */
  arrayOf(tensor: string): string {
    return this.restrided.has(tensor) ? `$${tensor}_r` : tensor;
  }

  fresh(p: string): string {
    return `$${p}${this.n++}`;
  }

  useTensor(name: string, role: 'read' | 'write', type: 'data' | 'int32' = 'data') {
    const prev = this.tensors.get(name);
    if (!prev || (prev.role === 'read' && role === 'write')) this.tensors.set(name, { name, type, role });
  }

  private konst(name: string, code: Code): string {
    if (isIdent(code)) return code;
    if (!this.consts.has(name)) {
      this.consts.set(name, code);
      this.constOrder.push(name);
    }
    return name;
  }

  konstPublic(name: string, code: Code): string {
    return this.konst(name, code);
  }

  stridePublic(tensor: string, d: number): Code {
    return this.stride(tensor, d);
  }

  prologue(): LoopNode[] {
    return this.constOrder.map((n) => ({ k: 'let', name: n, init: this.consts.get(n)!, mutable: false }) as LoopNode);
  }

  dim(tensor: string, d: number): Code {
    const shape = this.ctx.shapeOf(tensor);
    return this.konst(`$${tensor}_d${d}`, sizeCode(shape[d]!, this.sizes));
  }

  stride(tensor: string, d: number): Code {
    const shape = this.ctx.shapeOf(tensor);
    if (d === shape.length - 1) return '1';
    const padded = this.restrided.get(tensor);
    if (padded !== undefined && d <= padded) {
      // the copy's layout: dimension `padded` a few elements longer, the ones before it scaled along
      if (d < padded) return this.konst(`$${tensor}_s${d}`, `${this.dim(tensor, d + 1)} * ${this.stride(tensor, d + 1)}`);
      return this.konst(`$${tensor}_s${d}`, `${this.denseStride(tensor, d)} + ${this.restridePad(tensor, d)}`);
    }
    return this.konst(`$${tensor}_s${d}`, this.denseStride(tensor, d));
  }

  /** The stride of dimension d in the tensor's own (dense, row-major) layout, as a product of dims. */
  private denseStride(tensor: string, d: number): Code {
    const shape = this.ctx.shapeOf(tensor);
    return shape.slice(d + 1).map((_, k) => this.dim(tensor, d + 1 + k)).join(' * ') || '1';
  }

  /** Elements added to a restrided dimension: one cache line when the dense stride is a multiple of
   * 1 KiB (then the values the inner loop reads share a few cache sets), otherwise none. */
  private restridePad(tensor: string, d: number): string {
    const bytes = this.opts.dtype === 'float32' ? 4 : 8;
    const dense = this.denseStride(tensor, d);
    return this.konst(`$${tensor}_pad`, `((${dense}) * ${bytes}) % 1024 === 0 ? ${64 / bytes} : 0`);
  }

  extent(s: SizeExpr): Code {
    const code = sizeCode(s, this.sizes);
    return isIdent(code) || /^\d+$/.test(code) ? code : this.numbered('$e', code);
  }

  /** A numbered kernel constant, shared by every use of the same code (tiled kernels repeat nests). */
  private numbered(prefix: string, code: Code): string {
    return this.constOrder.find((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)) && this.consts.get(n) === code) ?? this.konst(`${prefix}${this.consts.size}`, code);
  }

  /** JS for an index expression, with index variables renamed by `vars`. */
  index(ix: IndexExpr, vars: ReadonlyMap<string, Code>): Code {
    let out = '0';
    for (const t of ix.terms) {
      const a = t.atom;
      let atom: Code;
      switch (a.kind) {
        case 'var':
          atom = vars.get(a.name) ?? a.name;
          break;
        case 'div': {
          const by = polyCode(a.by, this.sizes);
          atom = `Math.floor(${paren(this.index(a.of, vars))} / ${paren(by)})`;
          break;
        }
        case 'mod': {
          const by = paren(polyCode(a.by, this.sizes));
          const of = this.index(a.of, vars);
          // loop indices are ≥ 0: a nonnegative dividend needs no sign correction
          atom = nonNegative(a.of) ? `(${paren(of)} % ${by})` : `((${of} % ${by}) + ${by}) % ${by}`;
          break;
        }
        default:
          return assertNever(a);
      }
      out = addCode(out, mulCode(polyCode(t.coef, this.sizes), atom));
    }
    return addCode(out, polyCode(ix.constant, this.sizes));
  }

  /** Flat offset of an access as code (multiplications included). */
  offset(tensor: string, subs: readonly IndexExpr[], vars: ReadonlyMap<string, Code>): Code {
    let out = '0';
    subs.forEach((s, d) => (out = addCode(out, mulCode(this.index(s, vars), this.stride(tensor, d)))));
    return out;
  }

  dataArrayType(): string {
    return this.opts.dtype === 'float32' ? 'Float32Array' : 'Float64Array';
  }

  // ---- statements ------------------------------------------------------------------------------

  statement(s: Statement): LoopNode[] {
    this.useTensor(s.tensor, 'write');
    const argmaxRecord = this.ctx.recordsArgmax.has(s.tensor) && this.opts.optimize;
    if (argmaxRecord) this.useTensor(argmaxName(s.tensor), 'write', 'int32');
    if (!argmaxRecord && this.opts.optimize) {
      const tiled = this.tiledStatement(s);
      if (tiled) return tiled;
    }
    const out: LoopNode[] = [];
    const outPtr = this.fresh('o');
    out.push({ k: 'let', name: outPtr, init: '0', mutable: true });
    // indices read only as ⌊h/τ⌋ and h mod τ loop as quotient and remainder (pooling backward)
    const split = this.opts.optimize && !argmaxRecord ? splitQuotientLoops(s.lhs, s.rhs, (p) => this.fresh(p)) : undefined;
    const lhs = split?.lhs ?? s.lhs;
    split?.lhs.forEach((b) => this.extentOf.set(b.name, b.extent));
    const rhs = split?.rhs ?? s.rhs;
    const constraints: Constraint[] = (split?.guards ?? []).map((g) => ({ v: g.v, coef: 1, rest: g.rest, dim: g.dim, sides: 'upper' }));
    const vars = new Map<string, Code>(lhs.map((b) => [b.name, this.loopVar(b.name)]));
    const body = (inner: Map<string, Code>, hoisted: ReadonlyMap<string, Code>): LoopNode[] => {
      const nodes: LoopNode[] = [];
      let value: Code;
      if (argmaxRecord && rhs.kind === 'reduce') {
        const { nodes: red, value: v, arg } = this.reduction(rhs, inner, true);
        nodes.push(...red);
        nodes.push({ k: 'store', array: argmaxName(s.tensor), offset: outPtr, value: arg! });
        value = v;
      } else {
        const r = this.expr(rhs, inner, hoisted);
        nodes.push(...r.nodes);
        value = r.value;
      }
      nodes.push({ k: 'store', array: s.tensor, offset: `${outPtr}++`, value });
      return nodes;
    };
    const plan = this.planPointers(rhs, lhs);
    out.push(...this.nest(lhs, vars, rhs, body, { tighten: false, exclude: argmaxRecord ? rhs : undefined, constraints }));
    this.unplan(plan);
    return out;
  }

  private loopVar(name: string): Code {
    // never shadow a tensor or size name in the emitted code
    return this.ctx.program.tensors.some((t) => t.name === name) || this.ctx.program.sizes.some((z) => z.name === name) ? `${name}_` : name;
  }

  /**
   * Loops over `bounds` around a body. Reductions inside `scopeExpr` that depend only on outer
   * indices are computed before the loop that would otherwise repeat them.
   */
  private nest(
    bounds: readonly Bound[],
    outer: ReadonlyMap<string, Code>,
    scopeExpr: Expr,
    body: (vars: Map<string, Code>, hoisted: ReadonlyMap<string, Code>) => LoopNode[],
    opt: { tighten: boolean; exclude?: Expr | undefined; constraints?: readonly Constraint[]; residues?: readonly Residue[]; unrollSum?: string },
  ): LoopNode[] {
    const vars = new Map(outer);
    bounds.forEach((b) => vars.set(b.name, vars.get(b.name) ?? this.loopVar(b.name)));
    // reductions to hoist: level = position of the innermost loop index they use (−1: before all loops)
    const hoist = this.opts.optimize ? this.hoistable(scopeExpr, bounds, opt.exclude) : [];
    const hoisted = new Map<string, Code>();
    // loop bounds, each computed once, before the outermost loop it does not depend on
    const names = bounds.map((b) => b.name);
    const plan = bounds.map((b) => {
      const decls: LoopNode[] = [];
      let lo: Code = '0';
      let hi: Code = this.extent(b.extent);
      let step: Code = '1';
      let dep = -1;
      const depOf = (ix: IndexExpr) => Math.max(-1, ...idxVars(ix).map((x) => names.indexOf(x)));
      for (const c of opt.constraints?.filter((x) => x.v === b.name) ?? []) {
        // a plain index over its own extent adds nothing
        if ((c.sides ?? 'both') === 'both' && c.coef === 1 && c.rest.terms.length === 0 && c.rest.constant.size === 0 && c.dim && sizeEquals(c.dim, b.extent)) continue;
        const range = this.constraintRange(c, vars);
        dep = Math.max(dep, depOf(c.rest));
        if (range.lo !== '0') lo = lo === '0' ? `Math.max(0, ${range.lo})` : `Math.max(${lo}, ${range.lo})`;
        if (range.hi !== undefined) hi = `Math.min(${hi}, ${range.hi})`;
      }
      const residue = opt.residues?.find((r) => r.v === b.name);
      if (residue) {
        const m = paren(polyCode(residue.modulus, this.sizes));
        const want = this.index(residue.target, vars);
        dep = Math.max(dep, depOf(residue.target));
        const loName = this.fresh('lo');
        decls.push({ k: 'let', name: loName, init: lo, mutable: false });
        // first value ≥ lo in the residue class of `want`
        lo = `${loName} + ((((${want}) - ${loName}) % ${m}) + ${m}) % ${m}`;
        step = m;
      }
      if (lo !== '0' && !isIdent(lo)) {
        const loName = this.fresh('lo');
        decls.push({ k: 'let', name: loName, init: lo, mutable: false });
        lo = loName;
      }
      if (!isIdent(hi) && !/^\d+$/.test(hi)) {
        const hiName = this.fresh('hi');
        decls.push({ k: 'let', name: hiName, init: hi, mutable: false });
        hi = hiName;
      }
      return { lo, hi, step, decls, at: dep + 1 };
    });
    const build = (level: number): LoopNode[] => {
      const nodes: LoopNode[] = [];
      for (const h of hoist.filter((x) => x.level === level - 1)) {
        const r = this.reduction(h.expr, vars, false);
        nodes.push(...r.nodes);
        hoisted.set(exprKey(h.expr), r.value);
      }
      if (level === bounds.length) return [...nodes, ...body(vars, hoisted)];
      for (const pl of plan) if (pl.at === level) nodes.push(...pl.decls);
      const b = bounds[level]!;
      const v = vars.get(b.name)!;
      const { lo, hi, step } = plan[level]!;
      const advance: { name: string; by: Code }[] = [];
      const inner = this.withPointers(level, bounds, vars, lo, step, advance, nodes);
      const loopBody = inner(() => build(level + 1));
      const unrolled = level === bounds.length - 1 && opt.unrollSum ? this.unrollSum(opt.unrollSum, v, lo, hi, step, advance, loopBody) : undefined;
      if (unrolled) nodes.push(...unrolled);
      else nodes.push({ k: 'for', v, lo, hi, step, advance, body: loopBody });
      return nodes;
    };
    return build(0);
  }

  /**
   * acc += f(p) over a long loop is one dependency chain (one add in flight). Four partial sums in
   * locals keep four in flight: lanes read at p, p+s, p+2s, p+3s; a remainder loop finishes.
   */
  private unrollSum(acc: string, v: Code, lo: Code, hi: Code, step: Code, advance: readonly { name: string; by: Code }[], body: readonly LoopNode[]): LoopNode[] | undefined {
    if (step !== '1' || body.length !== 1) return undefined;
    const only = body[0]!;
    if (only.k !== 'set' || only.name !== acc || only.op !== '+=') return undefined;
    if (new RegExp(`(^|[^\\w$])${v.replace(/\$/g, '\\$')}([^\\w$]|$)`).test(only.value)) return undefined;
    const ptrs = new Map(advance.map((a) => [a.name, a.by] as const));
    const lane = (k: number) => (k === 0 ? only.value : only.value.replace(/\$p\d+/g, (name) => (ptrs.has(name) ? `(${name} + ${this.times(k, ptrs.get(name)!)})` : name)));
    const lanes = [acc, this.fresh('acc'), this.fresh('acc'), this.fresh('acc')];
    const adv4 = advance.map((a) => `, ${a.name} += ${this.times(4, a.by)}`).join('');
    const adv1 = advance.map((a) => `, ${a.name} += ${a.by}`).join('');
    return [
      {
        k: 'raw',
        lines: [
          `{`,
          `let ${lanes.slice(1).map((l) => `${l} = 0`).join(', ')};`,
          `let ${v} = ${lo};`,
          `for (; ${v} + 3 < ${hi}; ${v} += 4${adv4}) {`,
          ...lanes.map((l, k) => `  ${l} += ${lane(k)};`),
          `}`,
          `for (; ${v} < ${hi}; ${v}++${adv1}) {`,
          `  ${acc} += ${only.value};`,
          `}`,
          `${acc} += ${lanes.slice(1).join(' + ')};`,
          `}`,
        ],
      },
    ];
  }

  /** k·by as a kernel constant (`$4x$K_s1`), so loop bodies add lane offsets instead of multiplying. */
  private times(k: number, by: Code): Code {
    const c = mulCode(String(k), by);
    if (isIdent(c) || /^-?\d+$/.test(c)) return c;
    const plain = /^(\d+) \* (-?\d+)$/.exec(c);
    return plain ? String(Number(plain[1]) * Number(plain[2])) : this.konst(`$${k}x${by.replace(/[^\w]/g, '')}`, c);
  }

  // ---- register tiles --------------------------------------------------------------------------

  /**
   * Out[…a…b…] = E(sum(k) A(a,k)·B(b,k)) where the A reads do not use b, the B reads do not use a,
   * and no loop bound depends on either: a tile of 4 values of a × 4 of b keeps 16 sums in locals,
   * so each value read serves four multiply-adds (4 + 4 reads per 16, instead of 2 per 1).
   * conv forward: a = f (K), b = n (X); dX: a = c (K), b = n (dY); dK: a = f (dY), b = c (X).
   * Sizes that are not multiples of 4 finish in 4×1, 1×4 and 1×1 tiles (the last one the plain sum).
   */
  private tiledStatement(s: Statement): LoopNode[] | undefined {
    const sums = reductionsIn(s.rhs);
    const sum = sums[0];
    if (sums.length !== 1 || !sum || sum.op !== 'sum' || s.lhs.length < 2) return undefined;
    if (reductionsIn(sum.body).length) return undefined;
    const provenBefore = new Set(this.proven);
    sum.indices.forEach((b) => this.extentOf.set(b.name, b.extent));
    const r = { ...sum, indices: this.loopOrder(sum) };
    const { body, constraints, residues } = this.boundsFrom(r.body, r.indices);
    const plan = this.planPointers(body, r.indices);
    const pair = this.tilePair(s, body, r.indices, constraints, residues, plan);
    if (!pair) {
      this.unplan(plan);
      this.proven.clear();
      provenBefore.forEach((k) => this.proven.add(k));
      return undefined;
    }
    const factors = body.kind === 'mul' ? body.factors : [body];
    const vars = new Map<string, Code>(s.lhs.map((b) => [b.name, this.loopVar(b.name)]));
    const outSubs = s.lhs.map((b) => idxVar(b.name));
    const tileIndices = [pair.a, pair.b];
    const build = (level: number, width: ReadonlyMap<string, number>): LoopNode[] => {
      if (level === s.lhs.length) return this.tile(s, sum, r.indices, body, factors, pair, width, vars, outSubs, { constraints, residues });
      const bound = s.lhs[level]!;
      const v = vars.get(bound.name)!;
      const hi = this.extent(bound.extent);
      if (!tileIndices.includes(bound.name)) return [{ k: 'for', v, lo: '0', hi, step: '1', advance: [], body: build(level + 1, width) }];
      // whole tiles up to the last multiple of 4, then one at a time
      const w = bound.name === pair.a ? TILE.a : TILE.b;
      const whole = this.konst(`$${v.replace(/\W/g, '')}_${w}`, `${paren(hi)} - ${paren(hi)} % ${w}`);
      return [
        { k: 'for', v, lo: '0', hi: whole, step: String(w), advance: [], body: build(level + 1, new Map(width).set(bound.name, w)) },
        { k: 'for', v, lo: whole, hi, step: '1', advance: [], body: build(level + 1, new Map(width).set(bound.name, 1)) },
      ];
    };
    this.wantRestride(s, r.indices, [...pair.aReads, ...pair.bReads]);
    const out = [...this.restrideCopies(), ...build(0, new Map())];
    this.unplan(plan);
    return out;
  }

  /**
   * Reads of a tile that the innermost reduction loop walks along one dimension d with a stride
   * known only at run time (the conv forward's X[n,c,…] along c: stride H·W). When that stride is a
   * multiple of 1 KiB — H = W = 32 gives 8 KiB in float64 — the 4 × C values one tap reads all map to
   * the same few L1 cache sets and evict each other: measured 30–45 % slower than H = W = 30 or 33.
   * Such tensors are read from a copy whose dimension d is padded by one cache line.
   */
  private wantRestride(s: Statement, nest: readonly Bound[], reads: readonly Access[]): void {
    const inner = nest[nest.length - 1]?.name;
    if (inner === undefined) return;
    for (const f of reads) {
      if (f.tensor === s.tensor || this.restrided.has(f.tensor)) continue;
      const dims = f.subs.flatMap((sub, d) => (idxVars(sub).includes(inner) ? [d] : []));
      if (dims.length !== 1 || dims[0] === f.subs.length - 1) continue;
      const coef = f.subs[dims[0]!]!.terms.find((t) => t.atom.kind === 'var' && t.atom.name === inner)?.coef;
      if (!coef || polyConstValue(coef) !== 1) continue;
      // a stride fixed by the program (K[f,c,3,3] along c: 9) is decided here, not at run time
      const fixed = this.ctx.shapeOf(f.tensor).slice(dims[0]! + 1).map((x) => sizeTryEval(x, new Map()));
      const bytes = this.opts.dtype === 'float32' ? 4 : 8;
      if (fixed.every((x) => x !== undefined) && (fixed.reduce((a, b) => a! * b!, 1)! * bytes) % 1024 !== 0) continue;
      this.restrideWanted.set(f.tensor, dims[0]!);
    }
  }

  /** Copy each restrided tensor into module scratch with its padded layout (when the pad is not 0). */
  private restrideCopies(): LoopNode[] {
    const arr = this.dataArrayType();
    const lines: string[] = [];
    [...this.restrided].forEach(([tensor, d], k) => {
      const scratch = `$copy${arr === 'Float32Array' ? '32' : '64'}_${k}`;
      this.fns.add(scratch);
      const pad = this.restridePad(tensor, d);
      const dense = this.denseStride(tensor, d);
      const padded = this.stride(tensor, d);
      const blocks = this.ctx.shapeOf(tensor).slice(0, d + 1).map((_, q) => paren(this.dim(tensor, q))).join(' * ');
      const name = this.arrayOf(tensor);
      lines.push(
        `// ${tensor} read from a copy whose dimension ${d} is padded by ${pad} elements when its stride is a multiple of 1 KiB (cache sets)`,
        `let ${name} = ${tensor};`,
        `if (${pad} !== 0) {`,
        `  const $blocks = ${blocks};`,
        `  if (${scratch}.length < $blocks * ${padded}) ${scratch} = new ${arr}($blocks * ${padded});`,
        `  for (let $q = 0; $q < $blocks; $q++) ${scratch}.set(${tensor}.subarray($q * ${paren(dense)}, ($q + 1) * ${paren(dense)}), $q * ${padded});`,
        `  ${name} = ${scratch};`,
        `}`,
      );
    });
    return lines.length ? [{ k: 'raw', lines }] : [];
  }

  /** The two left-side indices to tile over, with the reads that vary along each; undefined when none fit. */
  private tilePair(s: Statement, body: Expr, nest: readonly Bound[], constraints: readonly Constraint[], residues: readonly Residue[], plan: readonly string[]): TilePair | undefined {
    const factors = body.kind === 'mul' ? body.factors : [body];
    if (nest.length === 0 || factors.some((f) => reductionsIn(f).length > 0)) return undefined;
    // indices a loop bound depends on would give each lane its own bounds
    const pinned = new Set([...constraints.flatMap((c) => idxVars(c.rest)), ...residues.flatMap((x) => idxVars(x.target))]);
    const along = (x: string) => factors.filter((f) => freeIndices(f).includes(x));
    const laneable = (x: string) => {
      const reads = along(x);
      if (pinned.has(x) || reads.length === 0) return false;
      return reads.every((f) => f.kind === 'access' && plan.includes(accessKey(f)) && this.inRange(f, new Map()) && this.coefficientCode(f.tensor, f.subs, x) !== undefined);
    };
    const names = s.lhs.map((b) => b.name).filter(laneable);
    for (let i = 0; i < names.length; i++)
      for (let j = i + 1; j < names.length; j++) {
        const a = names[i]!;
        const b = names[j]!;
        const ra = along(a);
        const rb = along(b);
        if (ra.some((f) => rb.includes(f))) continue;
        return { a, b, aReads: ra as Access[], bReads: rb as Access[] };
      }
    return undefined;
  }

  /** One tile (width 4 or 1 along each tiled index): sums in locals over the reduction nest, then the stores. */
  private tile(
    s: Statement,
    sum: Extract<Expr, { kind: 'reduce' }>,
    nest: readonly Bound[],
    body: Expr,
    factors: readonly Expr[],
    pair: TilePair,
    width: ReadonlyMap<string, number>,
    vars: ReadonlyMap<string, Code>,
    outSubs: readonly IndexExpr[],
    bounds: { constraints: readonly Constraint[]; residues: readonly Residue[] },
  ): LoopNode[] {
    const wa = width.get(pair.a)!;
    const wb = width.get(pair.b)!;
    const nodes: LoopNode[] = [];
    const accs = Array.from({ length: wa }, () => Array.from({ length: wb }, () => this.fresh('acc')));
    if (wa === 1 && wb === 1) {
      // a single sum: the plain loop with four partial sums
      const acc = accs[0]![0]!;
      nodes.push({ k: 'let', name: acc, init: '0', mutable: true });
      nodes.push(
        ...this.nest(nest, vars, body, (vs, hoisted) => {
          const e = this.expr(body, vs, hoisted);
          return [...e.nodes, { k: 'set', name: acc, op: '+=', value: e.value }];
        }, { tighten: true, ...bounds, unrollSum: acc }),
      );
    } else {
      nodes.push({ k: 'raw', lines: [`let ${accs.flat().map((a) => `${a} = 0`).join(', ')};`] });
      const rest = factors.filter((f) => !pair.aReads.includes(f as Access) && !pair.bReads.includes(f as Access));
      nodes.push(
        ...this.nest(nest, vars, body, (vs, hoisted) => {
          const common = rest.length ? this.expr(rest.length === 1 ? rest[0]! : { kind: 'mul', factors: rest }, vs, hoisted) : undefined;
          const lanes = (reads: readonly Access[], x: string, w: number) =>
            Array.from({ length: w }, (_, k) =>
              reads
                .map((f) => {
                  this.useTensor(f.tensor, 'read');
                  const ptr = this.pointers.get(accessKey(f))!.name;
                  return `${this.arrayOf(f.tensor)}[${k === 0 ? ptr : `${ptr} + ${this.times(k, this.coefficientCode(f.tensor, f.subs, x)!)}`}]!`;
                })
                .join(' * '),
            );
          const av = lanes(pair.aReads, pair.a, wa).map((v) => (common ? `${v} * ${paren(common.value)}` : v));
          const bv = lanes(pair.bReads, pair.b, wb);
          const an = av.map(() => this.fresh('x'));
          const bn = bv.map(() => this.fresh('y'));
          const lines = [
            `const ${an.map((n, k) => `${n} = ${av[k]}`).join(', ')};`,
            ...bn.flatMap((n, j) => [`const ${n} = ${bv[j]};`, ...accs.map((row, i) => `${row[j]} += ${an[i]} * ${n};`)]),
          ];
          return [...(common?.nodes ?? []), { k: 'raw', lines }];
        }, { tighten: true, ...bounds }),
      );
    }
    // stores: the rest of the right side per lane, at the tile's offset plus constant lane offsets
    const base = this.fresh('o');
    nodes.push({ k: 'let', name: base, init: this.offset(s.tensor, outSubs, vars), mutable: false });
    const position = (x: string) => s.lhs.findIndex((b) => b.name === x);
    const sa = this.stride(s.tensor, position(pair.a));
    const sb = this.stride(s.tensor, position(pair.b));
    accs.forEach((row, i) =>
      row.forEach((acc, j) => {
        const lane = new Map(vars);
        if (i) lane.set(pair.a, `(${vars.get(pair.a)} + ${i})`);
        if (j) lane.set(pair.b, `(${vars.get(pair.b)} + ${j})`);
        const e = this.expr(s.rhs, lane, new Map([[exprKey(sum), acc]]));
        nodes.push(...e.nodes, { k: 'store', array: s.tensor, offset: addCode(addCode(base, i ? this.times(i, sa) : '0'), j ? this.times(j, sb) : '0'), value: e.value });
      }),
    );
    return nodes;
  }

  /** Running offsets: set up before the loop over bounds[level], advanced by it. */
  private pointers = new Map<string, { name: string; level: number }>();
  private pointerPlan: { key: string; tensor: string; subs: readonly IndexExpr[]; nest: readonly Bound[] }[] = [];

  private withPointers(
    level: number,
    bounds: readonly Bound[],
    vars: Map<string, Code>,
    lo: Code,
    step: Code,
    advance: { name: string; by: Code }[],
    before: LoopNode[],
  ): (inner: () => LoopNode[]) => LoopNode[] {
    if (!this.opts.optimize) return (inner) => inner();
    const b = bounds[level]!;
    const plans = this.pointerPlan.filter((p) => p.nest === bounds);
    const saved = new Map(plans.map((p) => [p.key, this.pointers.get(p.key)] as const));
    for (const p of plans) {
      const coef = this.coefficientCode(p.tensor, p.subs, b.name);
      if (coef === undefined) continue;
      const prev = this.pointers.get(p.key);
      const name = this.fresh('p');
      // value with this loop at `lo` and every inner loop at 0
      const inner = new Map(vars);
      bounds.slice(level).forEach((x) => inner.set(x.name, '0'));
      inner.set(b.name, lo);
      const init = prev ? addCode(prev.name, mulCode(coef, lo)) : this.offset(p.tensor, p.subs, inner);
      before.push({ k: 'let', name, init, mutable: true });
      this.pointers.set(p.key, { name, level });
      if (coef !== '0') {
        const by = step === '1' ? coef : mulCode(coef, step);
        advance.push({ name, by: isIdent(by) || /^-?\d+$/.test(by) ? by : this.numbered(`$${p.tensor}_step`, by) });
      }
    }
    // pointers live while their loop is being generated; a later sibling loop starts afresh
    return (inner) => {
      const out = inner();
      for (const [k, v] of saved) {
        if (v) this.pointers.set(k, v);
        else this.pointers.delete(k);
      }
      return out;
    };
  }

  /** Σ_d stride_d · coef_d(v); undefined when v sits in a quotient or remainder. */
  private coefficientCode(tensor: string, subs: readonly IndexExpr[], v: string): Code | undefined {
    let out = '0';
    for (let d = 0; d < subs.length; d++) {
      const s = subs[d]!;
      for (const t of s.terms) {
        if (t.atom.kind !== 'var') {
          if (idxVars(t.atom.of).includes(v)) return undefined;
          continue;
        }
        if (t.atom.name !== v) continue;
        out = addCode(out, mulCode(polyCode(t.coef, this.sizes), this.stride(tensor, d)));
      }
    }
    return out;
  }

  /** The range of c.v where 0 ≤ coef·v + rest (lower side) and coef·v + rest < dim (upper side) hold. */
  private constraintRange(c: Constraint, vars: ReadonlyMap<string, Code>): { lo: Code; hi: Code | undefined } {
    const rest = paren(this.index(c.rest, vars));
    const sides = c.sides ?? 'both';
    const top = c.dim ? paren(addCode(this.extent(c.dim), '-1')) : undefined; // largest allowed value
    const numeric = typeof c.coef === 'number';
    const negative = numeric ? (c.coef as number) < 0 : [...(c.coef as Poly).values()].every((x) => x < 0);
    const mag: Code = numeric ? String(Math.abs(c.coef as number)) : paren(polyCode(negative ? new Map([...(c.coef as Poly)].map(([m, x]) => [m, -x])) : (c.coef as Poly), this.sizes));
    const unit = mag === '1';
    const ceilDiv = (a: Code) => (unit ? a : `Math.ceil(${paren(a)} / ${mag})`);
    const floorDiv = (a: Code) => (unit ? a : `Math.floor(${paren(a)} / ${mag})`);
    // k·v + rest ≥ 0 and k·v + rest ≤ top, with k = ±mag
    const fromLower = negative ? { hi: `${floorDiv(rest)} + 1` } : { lo: ceilDiv(rest === '0' ? '0' : `-${rest}`) };
    const fromUpper = top === undefined ? {} : negative ? { lo: ceilDiv(`${rest} - ${top}`) } : { hi: `${floorDiv(`${top} - ${rest}`)} + 1` };
    const use = [...(sides !== 'upper' ? [fromLower] : []), ...(sides !== 'lower' ? [fromUpper] : [])];
    const lo = use.map((u) => (u as { lo?: Code }).lo).find((x) => x !== undefined) ?? '0';
    const hi = use.map((u) => (u as { hi?: Code }).hi).find((x) => x !== undefined);
    return { lo, hi };
  }

  /** Reductions in e (not inside other reductions) that can be computed outside some of `bounds`. */
  hoistable(e: Expr, bounds: readonly Bound[], exclude?: Expr): { expr: Extract<Expr, { kind: 'reduce' }>; level: number }[] {
    const out: { expr: Extract<Expr, { kind: 'reduce' }>; level: number }[] = [];
    const names = bounds.map((b) => b.name);
    const seen = new Set<string>();
    const walk = (x: Expr) => {
      if (x === exclude) return;
      if (x.kind === 'reduce') {
        const free = freeIndices(x);
        const level = Math.max(-1, ...free.map((f) => names.indexOf(f)));
        const key = exprKey(x);
        if (level < names.length - 1 && !seen.has(key)) {
          seen.add(key);
          out.push({ expr: x, level });
        }
        return;
      }
      if (x.kind === 'argmax') return;
      children(x).forEach(walk);
    };
    walk(e);
    return out;
  }

  // ---- expressions -----------------------------------------------------------------------------

  /** Code for e; reductions become loops placed in `nodes` before the value is used. */
  expr(e: Expr, vars: Map<string, Code>, hoisted: ReadonlyMap<string, Code>): { nodes: LoopNode[]; value: Code } {
    const nodes: LoopNode[] = [];
    const go = (x: Expr): Code => {
      switch (x.kind) {
        case 'num':
          return Number.isInteger(x.value) ? String(x.value) : String(x.value);
        case 'sizeval':
          return paren(sizeCode(x.size, this.sizes));
        case 'index':
          return paren(this.index(x.expr, vars));
        case 'access':
          return this.read(x, vars);
        case 'delta':
          return `(${this.index(x.a, vars)} === ${this.index(x.b, vars)} ? 1 : 0)`;
        case 'add':
          return `(${x.terms.map(go).join(' + ').replace(/\+ -/g, '- ')})`;
        case 'mul':
        case 'div': {
          // a read outside its tensor is 0, and 0 absorbs its product or quotient, as in the
          // interpreter: the term is computed only where the read is in range, so dividing by
          // another padded read there (dY[h-1] / Y[h-1] at h = 0) gives 0, not 0/0 = NaN
          const t = this.product(x, go, vars, !staysFinite(x));
          const tests = [...new Set(t.checks)];
          return tests.length ? `(${tests.join(' && ')} ? ${t.code} : 0)` : t.code;
        }
        case 'pow':
          if (x.exp.kind === 'num' && x.exp.value === 2) {
            const t = go(x.base);
            if (isIdent(t) || /^[\w$]+\[[\w$+\- ]*\]$/.test(t)) return `${paren(t)} * ${paren(t)}`;
          }
          return `Math.pow(${go(x.base)}, ${go(x.exp)})`;
        case 'neg':
          return `-${paren(go(x.arg))}`;
        case 'compare':
          // +(a > b) compiles to a flag set, not a branch: a ReLU mask of random signs ran 2.5× faster
          return `+(${this.compareCode(x, go)})`;
        case 'call':
          return this.call(x.fn, x.args.map(go));
        case 'reduce': {
          const h = hoisted.get(exprKey(x));
          if (h) return h;
          const r = this.reduction(x, vars, false);
          nodes.push(...r.nodes);
          return r.value;
        }
        case 'argmax':
          return this.argmaxIndicator(x, vars, nodes);
        default:
          return assertNever(x);
      }
    };
    const value = go(e);
    return { nodes, value };
  }

  /** A product or quotient with its out-of-range reads unguarded, and their tests, collected from
   * the factors and numerators (a zero there zeroes the whole term; a zero denominator does not). */
  private product(x: Expr, go: (x: Expr) => Code, vars: ReadonlyMap<string, Code>, masksAbsorb: boolean): { code: Code; checks: Code[] } {
    switch (x.kind) {
      case 'access': {
        const r = this.readParts(x, vars);
        return { code: r.value, checks: r.checks ? [r.checks] : [] };
      }
      case 'mul': {
        const parts = x.factors.map((f) => this.product(f, go, vars, masksAbsorb));
        const code = parts.filter((p) => p.code !== '1').map((p) => paren(p.code)).join(' * ') || '1';
        return { code, checks: parts.flatMap((p) => p.checks) };
      }
      case 'compare':
        // a comparison factor absorbs like a zero read: where it fails the product is 0 even when
        // the rest is ±∞ or NaN there (the untaken side of where(X > 0, 1/X, X) at X = 0), so the
        // rest is computed only where it holds — unless the product cannot leave the finite numbers,
        // where the flag multiplies instead: no branch (a ReLU mask of random signs ran 2.5× faster so)
        return masksAbsorb ? { code: '1', checks: [this.compareCode(x, go)] } : { code: go(x), checks: [] };
      case 'div': {
        const num = this.product(x.num, go, vars, masksAbsorb);
        // a denominator read with the numerator's own test needs no second one
        const den = x.den.kind === 'access' ? this.readParts(x.den, vars) : undefined;
        const denCode = den && (!den.checks || num.checks.includes(den.checks)) ? den.value : go(x.den);
        return { code: `${paren(num.code)} / ${paren(denCode)}`, checks: num.checks };
      }
      default:
        return { code: go(x), checks: [] };
    }
  }

  /** A comparison as a JavaScript boolean. */
  private compareCode(x: Extract<Expr, { kind: 'compare' }>, go: (x: Expr) => Code): Code {
    const op = x.op === '==' ? '===' : x.op === '!=' ? '!==' : x.op;
    return `${go(x.a)} ${op} ${go(x.b)}`;
  }

  private call(fn: string, args: Code[]): Code {
    switch (fn) {
      case 'exp':
      case 'log':
      case 'sqrt':
      case 'abs':
      case 'sin':
      case 'cos':
      case 'tanh':
        return `Math.${fn}(${args[0]})`;
      case 'pow':
        return `Math.pow(${args[0]}, ${args[1]})`;
      case 'where':
        return `(${args[0]} !== 0 ? ${args[1]} : ${args[2]})`;
      default:
        this.fns.add(fn);
        return `${fn}(${args.join(', ')})`;
    }
  }

  /** A read; through a running offset when one is set up and the read is proven in range. */
  readonly proven = new Set<string>();
  private read(x: Extract<Expr, { kind: 'access' }>, vars: ReadonlyMap<string, Code>): Code {
    const { value, checks } = this.readParts(x, vars);
    return checks ? `(${checks} ? ${value} : 0)` : value;
  }

  /** A read as its value and the test that it lies in the tensor ('' when proven in range). */
  private readParts(x: Extract<Expr, { kind: 'access' }>, vars: ReadonlyMap<string, Code>): { value: Code; checks: Code } {
    this.useTensor(x.tensor, 'read');
    if (x.subs.length === 0) return { value: `${x.tensor}[0]!`, checks: '' };
    const key = accessKey(x);
    const ptr = this.pointers.get(key);
    const inRange = this.inRange(x, vars);
    const array = this.arrayOf(x.tensor);
    if (ptr && this.opts.optimize && inRange) return { value: `${array}[${ptr.name}]!`, checks: '' };
    // a running offset is the same number whether or not the read is in range: the test guards the read
    const off = ptr && this.opts.optimize ? ptr.name : this.offset(x.tensor, x.subs, vars);
    if (inRange) return { value: `${array}[${off}]!`, checks: '' };
    const shape = this.ctx.shapeOf(x.tensor);
    const checks = x.subs
      .map((s, d) => {
        if (this.subscriptInRange(s, shape[d]!)) return '';
        const c = this.index(s, vars);
        return `${nonNegative(s) ? '' : `${paren(c)} >= 0 && `}${paren(c)} < ${this.dim(x.tensor, d)}`;
      })
      .filter(Boolean)
      .join(' && ');
    return { value: `${array}[${off}]!`, checks };
  }

  private inRange(x: Extract<Expr, { kind: 'access' }>, _vars: ReadonlyMap<string, Code>): boolean {
    if (this.proven.has(accessKey(x))) return true;
    const shape = this.ctx.shapeOf(x.tensor);
    return x.subs.every((s, d) => this.subscriptInRange(s, shape[d]!));
  }

  /** A plain index over the same extent, a remainder by it, or a constant inside it. */
  subscriptInRange(s: IndexExpr, dim: SizeExpr): boolean {
    const v = idxAsVar(s);
    const ext = v !== undefined ? this.extentOf.get(v) : undefined;
    if (ext && (sizeEquals(ext, dim) || sameNumber(ext, dim, this.ctx.defaults))) return true;
    if (withinExtent(s, dim)) return true;
    const c = s.terms.length === 0 ? polyConstValue(s.constant) : undefined;
    const dv = sizeTryEval(dim, new Map());
    return c !== undefined && dv !== undefined && c >= 0 && c < dv;
  }

  /** extents of every index in scope (left side and reductions), for range proofs */
  readonly extentOf = new Map<string, SizeExpr>();

  // ---- reductions ------------------------------------------------------------------------------

  reduction(
    reduceNode: Extract<Expr, { kind: 'reduce' }>,
    outer: ReadonlyMap<string, Code>,
    recordArg: boolean,
  ): { nodes: LoopNode[]; value: Code; arg?: Code } {
    let r = reduceNode;
    r.indices.forEach((b) => this.extentOf.set(b.name, b.extent));
    const nodes: LoopNode[] = [];
    const acc = this.fresh('acc');
    // sums may skip terms that are 0: zero-padded reads and range guards bound the loops
    const tightenable = this.opts.optimize && (r.op === 'sum' || r.op === 'mean');
    if (tightenable) r = { ...r, indices: this.loopOrder(r) };
    const { body, constraints, residues } = tightenable ? this.boundsFrom(r.body, r.indices) : { body: r.body, constraints: [], residues: [] };
    const plan = this.planPointers(body, r.indices);
    const plainLoop = (each: (value: Code, vars: Map<string, Code>) => LoopNode[]) =>
      this.nest(r.indices, outer, body, (vars, hoisted) => {
        const e = this.expr(body, vars, hoisted);
        return [...e.nodes, ...each(e.value, vars)];
      }, { tighten: tightenable, constraints, residues, ...(tightenable ? { unrollSum: acc } : {}) });
    // max, min, logsumexp see padded zeros, so their loops cannot shrink; instead, when the whole
    // window lies inside the tensor (the usual case) a second copy runs without read checks
    const window = !tightenable && this.opts.optimize ? this.fullWindow(body, r.indices, outer) : undefined;
    const loop = (each: (value: Code, vars: Map<string, Code>) => LoopNode[]): LoopNode[] => {
      if (!window) return plainLoop(each);
      window.keys.forEach((k) => this.proven.add(k));
      const fast = plainLoop(each);
      window.keys.forEach((k) => this.proven.delete(k));
      const slow = plainLoop(each);
      return [...window.decls, { k: 'if', cond: window.cond, then: fast, else: slow }];
    };
    switch (r.op) {
      case 'sum':
      case 'mean': {
        nodes.push({ k: 'let', name: acc, init: '0', mutable: true });
        nodes.push(...loop((v) => [{ k: 'set', name: acc, op: '+=', value: v }]));
        this.unplan(plan);
        if (r.op === 'mean') {
          // the mean of no terms is 0, as their sum is (not 0/0)
          const count = r.indices.map((b) => paren(this.extent(b.extent))).join(' * ');
          const known = r.indices.map((b) => sizeTryEval(b.extent, new Map())).reduce<number | undefined>((a, b) => (a === undefined || b === undefined ? undefined : a * b), 1);
          return { nodes, value: known ? `${acc} / ${paren(count)}` : `(${paren(count)} === 0 ? 0 : ${acc} / ${paren(count)})` };
        }
        return { nodes, value: acc };
      }
      case 'max':
      case 'min': {
        nodes.push({ k: 'let', name: acc, init: r.op === 'max' ? '-Infinity' : 'Infinity', mutable: true });
        const arg = recordArg ? this.fresh('arg') : undefined;
        if (arg) nodes.push({ k: 'let', name: arg, init: '0', mutable: true });
        const local = recordArg ? this.localFlat(r.indices) : undefined;
        nodes.push(
          ...loop((v, vars) => {
            const t = this.fresh('v');
            return [
              { k: 'let', name: t, init: v, mutable: false },
              {
                k: 'if',
                cond: `${t} ${r.op === 'max' ? '>' : '<'} ${acc}`,
                then: [{ k: 'set', name: acc, op: '=', value: t }, ...(arg ? [{ k: 'set', name: arg, op: '=', value: local!(vars) } as LoopNode] : [])],
                else: [],
              },
            ];
          }),
        );
        this.unplan(plan);
        // over no terms (or only -∞ terms) the max is -∞, the min +∞: their identities
        return { nodes, value: acc, ...(arg ? { arg } : {}) };
      }
      case 'logsumexp': {
        // stable: subtract the maximum before exponentiating
        const m = this.fresh('max');
        nodes.push({ k: 'let', name: m, init: '-Infinity', mutable: true });
        nodes.push(...loop((v) => [{ k: 'if', cond: `${paren(v)} > ${m}`, then: [{ k: 'set', name: m, op: '=', value: v }], else: [] }]));
        nodes.push({ k: 'let', name: acc, init: '0', mutable: true });
        nodes.push(...loop((v) => [{ k: 'set', name: acc, op: '+=', value: `Math.exp(${v} - ${m})` }]));
        this.unplan(plan);
        const value = this.fresh('lse');
        // a row of -∞ (or no terms) has logsumexp -∞, not -∞ + log(NaN)
        nodes.push({ k: 'let', name: value, init: `${m} === -Infinity ? ${m} : ${m} + Math.log(${acc})`, mutable: false });
        return { nodes, value };
      }
      default:
        return assertNever(r.op);
    }
  }

  /**
   * Loop order of a sum: indices that run over a short window (a small extent like a 3×3 kernel,
   * or bounded by a small dimension through a zero-padded read) go outside, so the innermost loop
   * is long (channels, positions) rather than 3 iterations of overhead.
   */
  private loopOrder(r: Extract<Expr, { kind: 'reduce' }>): Bound[] {
    const small = (e: SizeExpr | undefined) => {
      const v = e && sizeTryEval(e, this.ctx.defaults);
      return v !== undefined && v !== 0 && v <= 4;
    };
    const saved = new Set(this.proven);
    const { constraints } = this.boundsFrom(r.body, r.indices);
    this.proven.clear();
    saved.forEach((k) => this.proven.add(k));
    const short = (b: Bound) => small(b.extent) || constraints.some((c) => c.v === b.name && small(c.dim));
    return [...r.indices.filter(short), ...r.indices.filter((b) => !short(b))];
  }

  /** The condition under which every direct read of a window body is inside its tensor. */
  private fullWindow(body: Expr, nest: readonly Bound[], outer: ReadonlyMap<string, Code>): { cond: Code; decls: LoopNode[]; keys: string[] } | undefined {
    const names = nest.map((b) => b.name);
    const factors = body.kind === 'mul' ? body.factors : [body];
    const conds: Code[] = [];
    const keys: string[] = [];
    for (const f of factors) {
      if (f.kind !== 'access') continue;
      const shape = this.ctx.shapeOf(f.tensor);
      let ok = true;
      f.subs.forEach((s, d) => {
        if (!ok || this.subscriptInRange(s, shape[d]!)) return;
        const vs = idxVars(s).filter((v) => names.includes(v));
        const t = s.terms.find((x) => x.atom.kind === 'var' && vs.includes(x.atom.name));
        const k = t ? polyConstValue(t.coef) : undefined;
        if (vs.length !== 1 || !t || k !== 1) return void (ok = false);
        const v = vs[0]!;
        const rest: IndexExpr = { terms: s.terms.filter((x) => x !== t), constant: s.constant };
        if (idxVars(rest).some((x) => names.includes(x))) return void (ok = false);
        const ext = nest.find((b) => b.name === v)!.extent;
        // 0 ≤ rest and rest + extent − 1 ≤ dim − 1
        const r = this.index(rest, outer);
        conds.push(`${paren(r)} >= 0 && ${paren(r)} + ${paren(this.extent(ext))} <= ${this.dim(f.tensor, d)}`);
      });
      if (!ok) return undefined;
      keys.push(accessKey(f));
    }
    if (!conds.length || !keys.length) return undefined;
    const name = this.fresh('inside');
    return { cond: name, decls: [{ k: 'let', name, init: conds.join(' && '), mutable: false }], keys };
  }

  private localFlat(indices: readonly Bound[]): (vars: ReadonlyMap<string, Code>) => Code {
    return (vars) => {
      let out = '0';
      indices.forEach((b, i) => {
        const after = indices.slice(i + 1).map((x) => paren(this.extent(x.extent)));
        out = addCode(out, mulCode(vars.get(b.name) ?? b.name, after.length ? after.join(' * ') : '1'));
      });
      return out;
    };
  }

  /** Pointers for the direct reads of a reduction body (not inside nested reductions). */
  private planPointers(body: Expr, nest: readonly Bound[]): string[] {
    if (!this.opts.optimize) return [];
    const keys: string[] = [];
    const walk = (x: Expr) => {
      if (x.kind === 'access' && x.subs.length && nest.every((b) => this.coefficientCode(x.tensor, x.subs, b.name) !== undefined)) {
        const key = accessKey(x);
        if (!keys.includes(key)) {
          keys.push(key);
          this.pointerPlan.push({ key, tensor: x.tensor, subs: x.subs, nest });
        }
      }
      if (x.kind === 'reduce' || x.kind === 'argmax') return;
      children(x).forEach(walk);
    };
    walk(body);
    return keys;
  }

  private unplan(keys: readonly string[]) {
    this.pointerPlan = this.pointerPlan.filter((p) => !keys.includes(p.key));
    keys.forEach((k) => {
      this.pointers.delete(k);
      this.proven.delete(k);
    });
  }

  /**
   * Bounds for the loops of a sum: every read that multiplies the whole body is 0 outside its
   * tensor, and every range guard is 0 outside its range, so the loops need only visit where
   * they hold. Returns the body without the guards it turned into bounds.
   */
  private boundsFrom(body: Expr, nest: readonly Bound[]): { body: Expr; constraints: Constraint[]; residues: Residue[] } {
    const factors = body.kind === 'mul' ? [...body.factors] : [body];
    const names = nest.map((b) => b.name);
    const constraints: Constraint[] = [];
    const residues: Residue[] = [];
    const kept: Expr[] = [];
    const innermost = (ix: IndexExpr): string | undefined => {
      const vs = idxVars(ix).filter((v) => names.includes(v));
      return vs.sort((a, b) => names.indexOf(b) - names.indexOf(a))[0];
    };
    const linear = (ix: IndexExpr, v: string): { coef: number | Poly; rest: IndexExpr } | undefined => {
      const term = ix.terms.find((t) => t.atom.kind === 'var' && t.atom.name === v);
      if (!term) return undefined;
      // v must appear only as that one plain term
      if (ix.terms.some((t) => t !== term && t.atom.kind !== 'var' && idxVars(t.atom.of).includes(v))) return undefined;
      const k = polyConstValue(term.coef);
      const vals = [...term.coef.values()];
      const coef = k !== undefined ? k : vals.every((x) => x > 0) || vals.every((x) => x < 0) ? term.coef : undefined;
      if (coef === undefined || coef === 0) return undefined;
      return { coef, rest: { terms: ix.terms.filter((t) => t !== term), constant: ix.constant } };
    };
    for (const f of factors) {
      if (f.kind === 'access') {
        const shape = this.ctx.shapeOf(f.tensor);
        f.subs.forEach((s, d) => {
          const v = innermost(s);
          if (!v) return;
          const lin = linear(s, v);
          if (lin) constraints.push({ v, ...lin, dim: shape[d]!, source: accessKey(f) });
        });
        kept.push(f);
        continue;
      }
      if (f.kind === 'compare' && f.a.kind === 'index') {
        const ix = f.a.expr;
        const v = innermost(ix);
        const lin = v ? linear(ix, v) : undefined;
        // (q >= 0) and (q < E): a range guard on one loop index
        if (v && lin && f.op === '>=' && f.b.kind === 'num' && f.b.value === 0) {
          constraints.push({ v, ...lin, sides: 'lower' });
          continue;
        }
        if (v && lin && f.op === '<' && f.b.kind === 'sizeval') {
          constraints.push({ v, ...lin, dim: f.b.size, sides: 'upper' });
          continue;
        }
        // (e % s == 0): step through the residue class
        const t = ix.terms[0];
        if (f.op === '==' && f.b.kind === 'num' && f.b.value === 0 && ix.terms.length === 1 && t?.atom.kind === 'mod' && polyConstValue(t.coef) === 1 && polyConstValue(ix.constant) === 0) {
          const inner = t.atom.of;
          const w = innermost(inner);
          const l = w ? linear(inner, w) : undefined;
          if (w && l && (l.coef === 1 || l.coef === -1) && !residues.some((r) => r.v === w)) {
            const target = l.coef === 1 ? negate(l.rest) : l.rest;
            residues.push({ v: w, modulus: t.atom.by, target });
            continue;
          }
        }
      }
      kept.push(f);
    }
    // reads whose bounds were applied are in range
    for (const c of constraints) if (c.source) this.proven.add(c.source);
    // a read is proven only when every subscript is: drop the proof otherwise
    for (const f of factors) {
      if (f.kind !== 'access') continue;
      const key = accessKey(f);
      if (!this.proven.has(key)) continue;
      const shape = this.ctx.shapeOf(f.tensor);
      const ok = f.subs.every((s, d) => {
        const v = innermost(s);
        if (v) return constraints.some((c) => c.source === key && c.v === v && (c.sides ?? 'both') === 'both' && !!c.dim && sizeEquals(c.dim, shape[d]!));
        const pv = idxAsVar(s);
        const ext = pv ? this.extentOf.get(pv) : undefined;
        return !!ext && (sizeEquals(ext, shape[d]!) || sameNumber(ext, shape[d]!, this.ctx.defaults));
      });
      if (!ok) this.proven.delete(key);
    }
    return { body: kept.length === factors.length ? body : kept.length === 1 ? kept[0]! : { kind: 'mul', factors: kept }, constraints, residues };
  }

  // ---- arg-max indicators ----------------------------------------------------------------------

  private argmaxIndicator(x: Extract<Expr, { kind: 'argmax' }>, vars: Map<string, Code>, nodes: LoopNode[]): Code {
    const rec = this.opts.optimize ? this.matchRecorded(x) : undefined;
    const at = x.at.map((a) => this.index(a, vars));
    const local = (codes: readonly Code[]) => {
      let out = '0';
      x.indices.forEach((b, i) => {
        const after = x.indices.slice(i + 1).map((y) => paren(this.extent(y.extent)));
        out = addCode(out, mulCode(codes[i]!, after.length ? after.join(' * ') : '1'));
      });
      return out;
    };
    const inWindow = x.indices
      .map((b, i) => (this.subscriptInRange(x.at[i]!, b.extent) ? '' : `${paren(at[i]!)} >= 0 && ${paren(at[i]!)} < ${paren(this.extent(b.extent))}`))
      .filter(Boolean)
      .join(' && ');
    if (rec) {
      // the forward pass recorded each window's arg-max: compare positions
      this.useTensor(argmaxName(rec.tensor), 'read', 'int32');
      const subs = rec.at.map((s) => this.index(s, vars));
      const shapeChecks = subs
        .map((c, d) => (this.subscriptInRange(rec.at[d]!, this.ctx.shapeOf(rec.tensor)[d]!) ? '' : `${nonNegative(rec.at[d]!) ? '' : `${paren(c)} >= 0 && `}${paren(c)} < ${this.dim(rec.tensor, d)}`))
        .filter(Boolean)
        .join(' && ');
      let off = '0';
      subs.forEach((c, d) => (off = addCode(off, mulCode(c, this.stride(rec.tensor, d)))));
      // +(…) makes a flag, not a branch: which window position holds the max is a coin toss per
      // element, and a mispredicted branch per element doubled max-pool backward's time
      return `+(${[inWindow, shapeChecks, `${argmaxName(rec.tensor)}[${off}]! === ${paren(local(at))}`].filter(Boolean).join(' && ')})`;
    }
    // no record: find the first arg-max here
    const r: Extract<Expr, { kind: 'reduce' }> = { kind: 'reduce', op: x.op, indices: x.indices, body: x.body };
    const red = this.reduction(r, vars, true);
    nodes.push(...red.nodes);
    return `+(${inWindow ? `${inWindow} && ` : ''}${red.arg} === ${paren(local(at))})`;
  }

  /** Is this indicator the arg-max of a forward max reduction? Then return that tensor and where to read it. */
  private matchRecorded(x: Extract<Expr, { kind: 'argmax' }>): { tensor: string; at: IndexExpr[] } | undefined {
    for (const [tensor, st] of this.ctx.recordsArgmax) {
      const r = st.rhs;
      // the same reduction: same op over the same ranges (a 3-wide and a 2-wide max of one input
      // match body for body, but record different arg-maxes)
      if (r.kind !== 'reduce' || r.op !== x.op || r.indices.length !== x.indices.length) continue;
      if (r.indices.some((b, i) => !sizeEquals(b.extent, x.indices[i]!.extent))) continue;
      const sol = matchForward(st, x);
      if (sol) return { tensor, at: sol };
    }
    return undefined;
  }
}

type Access = Extract<Expr, { kind: 'access' }>;

/** Functions whose value is finite wherever their arguments are. */
const FINITE_FUNCTIONS = new Set(['relu', 'sigmoid', 'tanh', 'abs', 'sin', 'cos', 'max', 'min', 'where', 'elu', 'softplus']);

/** Finite for finite data: no division, logarithm, root, power or exponential that could make ±∞ or NaN. */
function staysFinite(e: Expr): boolean {
  switch (e.kind) {
    case 'num':
      return Number.isFinite(e.value);
    case 'sizeval':
    case 'index':
    case 'access':
    case 'compare':
    case 'argmax':
    case 'delta':
      return true;
    case 'add':
    case 'mul':
    case 'neg':
      return children(e).every(staysFinite);
    case 'pow':
      return e.exp.kind === 'num' && Number.isInteger(e.exp.value) && e.exp.value >= 0 && staysFinite(e.base);
    case 'call':
      return FINITE_FUNCTIONS.has(e.fn) && e.args.every(staysFinite);
    case 'reduce':
      return (e.op === 'sum' || e.op === 'max' || e.op === 'min') && staysFinite(e.body);
    case 'div':
      return false;
    default:
      return assertNever(e);
  }
}

/** Register tile widths: 4×4 measured best on the conv benchmarks (4×2, 2×4, 3×4, 4×3 and 2×2 were 10–60 % slower). */
const TILE = { a: 4, b: 4 } as const;

/** Tile indices a and b, and the reads of the summand that vary along each. */
interface TilePair {
  readonly a: string;
  readonly b: string;
  readonly aReads: readonly Access[];
  readonly bReads: readonly Access[];
}

/** Reductions (and arg-max indicators) in e, not counting those inside another reduction. */
export function reductionsIn(e: Expr): Extract<Expr, { kind: 'reduce' }>[] {
  if (e.kind === 'reduce') return [e];
  if (e.kind === 'argmax') return [{ kind: 'reduce', op: e.op, indices: e.indices, body: e.body }];
  return children(e).flatMap(reductionsIn);
}

interface Residue {
  readonly v: string;
  readonly modulus: Poly;
  readonly target: IndexExpr;
}

/** Provably ≥ 0: nonnegative coefficients on indices (which are ≥ 0), quotients and remainders of such. */
function nonNegative(ix: IndexExpr): boolean {
  const posPoly = (p: Poly) => [...p.values()].every((v) => v >= 0);
  return posPoly(ix.constant) && ix.terms.every((t) => posPoly(t.coef) && (t.atom.kind === 'var' || nonNegative(t.atom.of)));
}

/** Provably in [0, extent): a remainder by the extent itself. */
function withinExtent(ix: IndexExpr, extent: SizeExpr): boolean {
  const t = ix.terms[0];
  return ix.terms.length === 1 && ix.constant.size === 0 && t?.atom.kind === 'mod' && polyConstValue(t.coef) === 1 && extent.kind === 'poly' && idxKey({ terms: [], constant: t.atom.by }) === idxKey({ terms: [], constant: extent.poly });
}

const negate = (ix: IndexExpr): IndexExpr => ({
  terms: ix.terms.map((t) => ({ atom: t.atom, coef: new Map([...t.coef].map(([k, v]) => [k, -v])) })),
  constant: new Map([...ix.constant].map(([k, v]) => [k, -v])),
});

/** Two sizes that are the same number (both constant once the defaults are in). */
export function sameNumber(a: SizeExpr, b: SizeExpr, defaults: ReadonlyMap<string, number>): boolean {
  const x = sizeTryEval(a, defaults);
  const y = sizeTryEval(b, defaults);
  return x !== undefined && x === y && [a, b].every((s) => s.kind === 'poly' && [...s.poly.keys()].every((k) => k === ''));
}

const accessKey = (x: Extract<Expr, { kind: 'access' }>) => `${x.tensor}[${x.subs.map(idxKey).join(',')}]`;


/**
 * Forward `Y[l] = max(i) body(l, i)` and an indicator argmax(i' @ at) body': find the left-side
 * values E with body(E, i') = body', by matching subscripts; return E or undefined.
 */
function matchForward(st: Statement, x: Extract<Expr, { kind: 'argmax' }>): IndexExpr[] | undefined {
  const r = st.rhs as Extract<Expr, { kind: 'reduce' }>;
  const bound = new Map(r.indices.map((b, i) => [b.name, x.indices[i]!.name] as const));
  const lhs = st.lhs.map((b) => b.name);
  const pats: IndexExpr[] = [];
  const tgts: IndexExpr[] = [];
  const collect = (p: Expr, t: Expr): boolean => {
    if (p.kind !== t.kind) return false;
    if (p.kind === 'access' && t.kind === 'access') {
      if (p.tensor !== t.tensor || p.subs.length !== t.subs.length) return false;
      pats.push(...p.subs);
      tgts.push(...t.subs);
      return true;
    }
    const pc = children(p);
    const tc = children(t);
    return pc.length === tc.length && pc.every((c, i) => collect(c, tc[i]!)) && (p.kind !== 'num' || (t as { value: number }).value === p.value);
  };
  if (!collect(r.body, x.body)) return undefined;
  const sol = new Map<string, IndexExpr>();
  for (let k = 0; k < pats.length; k++) {
    const p = pats[k]!;
    const ls = idxVars(p).filter((v) => lhs.includes(v));
    if (ls.length === 0) continue;
    if (ls.length > 1) return undefined;
    const l = ls[0]!;
    const term = p.terms.find((t) => t.atom.kind === 'var' && t.atom.name === l);
    const c = term ? polyConstValue(term.coef) : undefined;
    if (!term || c === undefined || c === 0) return undefined;
    // target − (pattern without l, bound renamed) = c·E
    let rest: IndexExpr = { terms: p.terms.filter((t) => t !== term), constant: p.constant };
    rest = idxRename(rest, bound);
    const diff = idxSub(tgts[k]!, rest);
    const e = scaleDown(diff, c);
    if (!e) return undefined;
    const prev = sol.get(l);
    if (prev && idxKey(prev) !== idxKey(e)) return undefined;
    sol.set(l, e);
  }
  if (lhs.some((l) => !sol.has(l))) return undefined;
  // the window's position cannot depend on the window's own indices: X[u + 2i] over i matches
  // X[u' + i] only with u = u' − i, a different window for every i (not this record)
  const inner = new Set(x.indices.map((b) => b.name));
  if ([...sol.values()].some((e) => idxVars(e).some((v) => inner.has(v)))) return undefined;
  // verify: substituting the solution into the forward body gives the indicator's body
  let check: Expr = r.body;
  check = renameIndices(check, bound);
  for (const l of lhs) check = substituteIndex(check, l, sol.get(l)!);
  if (exprKey(check) !== exprKey(x.body)) return undefined;
  return lhs.map((l) => sol.get(l)!);
}

import { idxDiv, idxRename, idxSub } from '../ir/affine.js';
function scaleDown(e: IndexExpr, c: number): IndexExpr | undefined {
  if (c === 1) return e;
  const q = idxDiv(e, new Map([['', Math.abs(c)]]));
  if (q.terms.some((t) => t.atom.kind === 'div' && idxKey(t.atom.of) === idxKey(e))) {
    // e = c·(something/c) form: 2*(h/2) divided by 2 is h/2
    return undefined;
  }
  return c < 0 ? negate(q) : q;
}

/** Lower one statement to a kernel. */
export function lowerStatement(s: Statement, name: string, ctx: LowerContext, opts: LowerOptions): LoweredKernel & { fns: Set<string>; dataType: string } {
  const mm = opts.optimize ? lowerMatmul(s, ctx, opts) : undefined;
  if (mm) return { ...mm, name, formula: printStatementSafe(s) };
  let l = new Lowerer(ctx, opts);
  s.lhs.forEach((b) => l.extentOf.set(b.name, b.extent));
  let body = l.statement(s);
  if (l.restrideWanted.size) {
    // again, with the strides of the restrided copies from the start
    l = new Lowerer(ctx, opts, l.restrideWanted);
    s.lhs.forEach((b) => l.extentOf.set(b.name, b.extent));
    body = l.statement(s);
  }
  return {
    name,
    formula: printStatementSafe(s),
    tensors: [...l.tensors.values()],
    sizes: [...l.sizes].sort(),
    body: [...l.prologue(), ...body],
    fns: l.fns,
    dataType: l.dataArrayType(),
  };
}

function printStatementSafe(s: Statement): string {
  const lhs = s.lhs.length ? `${s.tensor}[${s.lhs.map((b) => b.name).join(',')}]` : s.tensor;
  return `${lhs} = ${printExpr(s.rhs)}`;
}
