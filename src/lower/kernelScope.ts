// kernelScope: what every lowering strategy shares while it lowers one statement — the kernel's size
// parameters and tensor buffers, sizes, dimensions and strides as loop-IR expressions, index
// arithmetic, and what has been proven about reads (in range) and indices (their extents).
//
// Worked example: for `dX[n,c,h,w] = …` with X: [N, C, H, W], stride(X, 1) is the expression H*W
// over the size parameters H and W (each becomes a parameter of the kernel on first use),
// offset(X, [n, c, h+P-u*T, w]) is n*(C*H*W) + c*(H*W) + (h + P - u*T)*W + w, and
// index(h/2) is floordiv(h, 2). Nothing is hoisted here: the passes in src/opt/ do that.
import { idxAsVar, idxKey } from '../ir/affine.js';
import { children } from '../ir/exprs.js';
import { polyConstValue, sizeEquals, sizeTryEval } from '../ir/sizes.js';
import { assertNever, type Expr, type IndexExpr, type Poly, type Program, type SizeExpr, type Statement } from '../ir/types.js';
import { add, buffer, c, cast, floordiv, load, mod, mul, rem, sym, v } from '../loop/build.js';
import { PARTS_KEY, type Buf, type ElemTy, type Kernel, type KernelBuffer, type LExpr, type LStmt, type Sym } from '../loop/types.js';

export interface LowerOptions {
  readonly optimize: boolean;
  readonly dtype: 'float32' | 'float64';
  /** matmul-shaped statements run their micro-kernel in WebAssembly SIMD */
  readonly simd: boolean;
  /** kernels for worker threads: a GEMM's blocks are sized so that the threads' shares are even
   *  (gemmBlocks.ts), and a parallel loop of each is split between them (opt/splitParallelLoop.ts) */
  readonly threads?: boolean;
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
export type Access = Extract<Expr, { kind: 'access' }>;
export const accessKey = (x: Access) => `${x.tensor}[${x.subs.map(idxKey).join(',')}]`;

/** A tensor read from a copy with a padded stride (see lowerTiles' restriding). */
export interface Restrided {
  readonly buf: Buf;
  readonly dim: number;
  /** the elements added to that dimension's stride */
  readonly pad: LExpr;
}

export class KernelScope {
  /** the element type of the kernel's data */
  readonly F: 'f32' | 'f64';
  private readonly sizeSyms = new Map<string, Sym>();
  private readonly buffers = new Map<string, KernelBuffer>();
  /** extents of every index in scope (left side and reductions), for range proofs */
  readonly extentOf = new Map<string, SizeExpr>();
  /** reads (accessKey) proven in range where they are lowered */
  readonly proven = new Set<string>();
  /** tensors read from restrided copies */
  readonly restrided = new Map<string, Restrided>();
  /** statements the kernel runs first: matrix functions that depend on no index (an inverse, a
   *  determinant), computed once for the whole kernel */
  readonly prologue: LStmt[] = [];
  /** those matrix functions' results, by the key of the function without its position */
  readonly matrices = new Map<string, Buf>();
  /** the kernel reads integer input data (a data subscript or an index value of it) */
  private readsData = false;

  constructor(
    readonly ctx: LowerContext,
    readonly opts: LowerOptions,
  ) {
    this.F = opts.dtype === 'float32' ? 'f32' : 'f64';
  }

  // ---- parameters -------------------------------------------------------------------------------

  /** sizes bound to locals of the kernel (a residue class's constants), not parameters */
  private readonly localSizes = new Map<string, LExpr>();

  bindSize(name: string, value: LExpr): void {
    this.localSizes.set(name, value);
  }

  /** The value of a size; it becomes a parameter of the kernel (unless a local holds it). */
  size(name: string): LExpr {
    const local = this.localSizes.get(name);
    if (local) return local;
    let s = this.sizeSyms.get(name);
    if (!s) {
      s = sym(name, 'i32');
      this.sizeSyms.set(name, s);
    }
    return v(s);
  }

  /** The number of worker threads the kernel's work is shared between (the size `#parts`). */
  threadCount(): LExpr {
    let s = this.sizeSyms.get(PARTS_KEY);
    if (!s) {
      s = sym('$parts', 'i32');
      this.sizeSyms.set(PARTS_KEY, s);
    }
    return v(s);
  }

  /** A tensor's buffer, as a parameter of the kernel: read, or written (a later write upgrades). */
  tensor(name: string, role: 'read' | 'write', elem?: ElemTy): Buf {
    const prev = this.buffers.get(name);
    if (prev) {
      if (role === 'write' && prev.role === 'read') this.buffers.set(name, { ...prev, role });
      return prev.buf;
    }
    const buf = buffer(name, elem ?? this.F);
    this.buffers.set(name, { buf, key: name, role });
    return buf;
  }

  /** An integer input's buffer (Int32Array): the kernel then runs in JavaScript. */
  dataBuffer(name: string): Buf {
    this.readsData = true;
    return this.tensor(name, 'read', 'i32');
  }

  /** The buffer a tensor is read from: its own, or its restrided copy. */
  source(name: string): Buf {
    return this.restrided.get(name)?.buf ?? this.tensor(name, 'read');
  }

  /** The finished kernel: its parameters are exactly the sizes and tensors the body used. */
  kernel(name: string, formula: string, body: readonly LStmt[]): Kernel {
    const sizes = [...this.sizeSyms].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, s]) => ({ v: s, key }));
    return { name, formula, dtype: this.F, buffers: [...this.buffers.values()], sizes, body, ...(this.readsData ? { data: true as const } : {}) };
  }

  // ---- sizes and shapes -------------------------------------------------------------------------

  poly(p: Poly): LExpr {
    let out = c(0);
    for (const [mono, k] of p) {
      const factors = mono ? mono.split('*').map((n) => this.size(n)) : [];
      out = add(out, mul(c(k), factors.reduce(mul, c(1))));
    }
    return out;
  }

  sizeExpr(s: SizeExpr): LExpr {
    switch (s.kind) {
      case 'poly':
        return this.poly(s.poly);
      case 'div':
        return floordiv(this.sizeExpr(s.num), this.sizeExpr(s.den));
      case 'sum':
        return s.terms.map((t) => this.sizeExpr(t)).reduce(add, c(0));
      default:
        return assertNever(s);
    }
  }

  dim(tensor: string, d: number): LExpr {
    return this.sizeExpr(this.ctx.shapeOf(tensor)[d]!);
  }

  /** The product of the dimensions after d: the stride of d in the tensor's own dense layout. */
  denseStride(tensor: string, d: number): LExpr {
    const rank = this.ctx.shapeOf(tensor).length;
    let out = c(1);
    for (let k = d + 1; k < rank; k++) out = mul(out, this.dim(tensor, k));
    return out;
  }

  /** The stride of dimension d as read: a restrided copy's dimension is longer by its pad. */
  stride(tensor: string, d: number): LExpr {
    const rank = this.ctx.shapeOf(tensor).length;
    if (d === rank - 1) return c(1);
    const r = this.restrided.get(tensor);
    if (r && d <= r.dim) return d < r.dim ? mul(this.dim(tensor, d + 1), this.stride(tensor, d + 1)) : add(this.denseStride(tensor, d), r.pad);
    return this.denseStride(tensor, d);
  }

  /** The number of elements of a tensor. */
  count(tensor: string): LExpr {
    return this.ctx.shapeOf(tensor).reduce((acc, _, d) => mul(acc, this.dim(tensor, d)), c(1));
  }

  // ---- indices ----------------------------------------------------------------------------------

  /** An index expression with index variables bound by `vars`. */
  index(ix: IndexExpr, vars: ReadonlyMap<string, LExpr>): LExpr {
    let out = c(0);
    for (const t of ix.terms) {
      const a = t.atom;
      let atom: LExpr;
      switch (a.kind) {
        case 'var': {
          const x = vars.get(a.name);
          if (!x) throw new Error(`internal: index ${a.name} is not bound`);
          atom = x;
          break;
        }
        case 'div':
          atom = floordiv(this.index(a.of, vars), this.poly(a.by));
          break;
        case 'mod':
          // loop indices are ≥ 0: a nonnegative dividend needs no sign correction
          atom = nonNegative(a.of) ? rem(this.index(a.of, vars), this.poly(a.by)) : mod(this.index(a.of, vars), this.poly(a.by));
          break;
        case 'read':
          // integer data, read in range (its indices run over its dimensions: the checker's rule)
          atom = load(this.dataBuffer(a.tensor), this.offset(a.tensor, a.subs, vars), { ty: 'i32' });
          break;
        default:
          return assertNever(a);
      }
      out = add(out, mul(this.poly(t.coef), atom));
    }
    return add(out, this.poly(ix.constant));
  }

  /** The flat offset of an access in the buffer it is read from. */
  offset(tensor: string, subs: readonly IndexExpr[], vars: ReadonlyMap<string, LExpr>): LExpr {
    return subs.reduce((acc, s, d) => add(acc, mul(this.index(s, vars), this.stride(tensor, d))), c(0));
  }

  /** A float constant of the kernel's type. */
  num(x: number): LExpr {
    return c(x, this.F);
  }

  /** An integer as a float of the kernel's type. */
  float(e: LExpr): LExpr {
    return cast(this.F, e);
  }

  // ---- proofs -----------------------------------------------------------------------------------

  /** A plain index over the same extent, a remainder by it, or a constant inside it. */
  subscriptInRange(s: IndexExpr, dim: SizeExpr): boolean {
    const name = idxAsVar(s);
    const ext = name !== undefined ? this.extentOf.get(name) : undefined;
    if (ext && (sizeEquals(ext, dim) || sameNumber(ext, dim, this.ctx.defaults))) return true;
    if (withinExtent(s, dim)) return true;
    // tok[n] + c: every value was checked against the dimension before the kernel's loops (checkDataLoops)
    if (s.terms.length === 1 && s.terms[0]!.atom.kind === 'read' && polyConstValue(s.terms[0]!.coef) === 1) return true;
    const k = s.terms.length === 0 ? polyConstValue(s.constant) : undefined;
    const d = sizeTryEval(dim, new Map());
    return k !== undefined && d !== undefined && k >= 0 && k < d;
  }

  /** Is every subscript of the read in range (proven by the lowering, or by its indices' extents)? */
  inRange(x: Access): boolean {
    if (this.proven.has(accessKey(x))) return true;
    const shape = this.ctx.shapeOf(x.tensor);
    return x.subs.every((s, d) => this.subscriptInRange(s, shape[d]!));
  }
}

/** Provably ≥ 0: nonnegative coefficients on indices (which are ≥ 0), quotients and remainders of such. */
export function nonNegative(ix: IndexExpr): boolean {
  const posPoly = (p: Poly) => [...p.values()].every((x) => x >= 0);
  return posPoly(ix.constant) && ix.terms.every((t) => posPoly(t.coef) && (t.atom.kind === 'var' || (t.atom.kind !== 'read' && nonNegative(t.atom.of))));
}

/** Provably in [0, extent): a remainder by the extent itself. */
export function withinExtent(ix: IndexExpr, extent: SizeExpr): boolean {
  const t = ix.terms[0];
  return ix.terms.length === 1 && ix.constant.size === 0 && t?.atom.kind === 'mod' && polyConstValue(t.coef) === 1 && extent.kind === 'poly' && idxKey({ terms: [], constant: t.atom.by }) === idxKey({ terms: [], constant: extent.poly });
}

/** Two sizes that are the same number (both constant once the defaults are in). */
export function sameNumber(a: SizeExpr, b: SizeExpr, defaults: ReadonlyMap<string, number>): boolean {
  const x = sizeTryEval(a, defaults);
  const y = sizeTryEval(b, defaults);
  return x !== undefined && x === y && [a, b].every((s) => s.kind === 'poly' && [...s.poly.keys()].every((k) => k === ''));
}

/** Reductions (and arg-max indicators) in e, not counting those inside another reduction. */
export function reductionsIn(e: Expr): Extract<Expr, { kind: 'reduce' }>[] {
  if (e.kind === 'reduce') return [e];
  if (e.kind === 'argmax') return [{ kind: 'reduce', op: e.op, indices: e.indices, body: e.body }];
  return children(e).flatMap(reductionsIn);
}
