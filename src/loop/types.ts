// The loop IR: what a kernel does, between the math IR and any target's text or bytes.
//
// Worked example: dX[k,j] = sum(i) A[i,k]*dY[i,j] lowers (before the optimisation passes) to
//   for k in [0, K)            serial
//     for j in [0, J)          serial
//       let acc: f64 = 0
//       for i in [0, I)        serial
//         acc = acc + load(A, i*K + k) * load(dY, i*J + j)
//       store(dX, k*J + j, acc)
// Expressions are typed trees (i32 / f32 / f64 / bool, and the 128-bit vectors of the WebAssembly
// kernels); statements are loops, bindings, stores and calls. Nothing is code text: a printer
// per target (src/target/) spells it, so one lowering serves JavaScript, TypeScript, WebAssembly
// and WGSL. Variables and buffers are symbols (`Sym`, `Buf`) whose spelling the printer chooses.

export type ScalarTy = 'i32' | 'f32' | 'f64' | 'bool';
/** 128-bit vectors (WebAssembly SIMD): lanes of f32, f64 or i32 */
export type VectorTy = 'f32x4' | 'f64x2' | 'i32x4';
export type Ty = ScalarTy | VectorTy;
/** What a buffer holds; `u8` is a byte-addressed memory (a WebAssembly memory), read at any type. */
export type ElemTy = 'f32' | 'f64' | 'i32' | 'u8';

/** A variable. `name` is a hint: the printer keeps it when it can and makes it unique when not. */
export interface Sym {
  readonly kind: 'sym';
  readonly id: number;
  readonly name: string;
  readonly ty: Ty;
}

/** An array: a kernel's tensor, a scratch allocation, or a view of a micro-kernel module's memory. */
export interface Buf {
  readonly kind: 'buf';
  readonly id: number;
  readonly name: string;
  readonly elem: ElemTy;
}

export type UnaryOp =
  | 'neg'
  | 'not'
  /** bool → number (1 or 0), and number → number conversions (i32 ↔ f32/f64: truncation toward 0) */
  | 'cast'
  /** float → float */
  | 'floor'
  | 'ceil'
  /** scalar → vector with every lane equal */
  | 'splat'
  /** vector → the sum of its lanes, lane 0 first (a vectorized sum's end; WebAssembly only) */
  | 'hsum';

export type BinaryOp =
  | '+'
  | '-'
  | '*'
  /** float division; on i32 use floordiv / ceildiv */
  | '/'
  | 'floordiv'
  | 'ceildiv'
  /** floor modulo: the result has the divisor's sign (−1 mod 3 = 2) */
  | 'mod'
  /** truncating remainder (C's %), for operands known ≥ 0 */
  | 'rem'
  /** plain minimum and maximum (loop bounds); the language's max(a, b) is the intrinsic `max` */
  | 'min'
  | 'max'
  | '<'
  | '<='
  | '>'
  | '>='
  | '=='
  | '!='
  | '&&'
  | '||'
  /** vectors → the even lanes of a, then those of b: a stride-2 read as two loads (WebAssembly only) */
  | 'evens'
  /** vectors → the odd lanes of a, then those of b: the stride-2 read one element on, from the same loads */
  | 'odds'
  /** vectors → the first half of the lanes of a and b, interleaved (a0 b0 a1 b1): with 'interleaveHi'
   *  (a2 b2 a3 b3), two stride-2 stores side by side as two vector stores (WebAssembly only) */
  | 'interleaveLo'
  | 'interleaveHi';

/** Functions of the language and of the kernels, each with a spelling per target. */
export const INTRINSICS = [
  'exp', 'log', 'sqrt', 'abs', 'sin', 'cos', 'tanh', 'pow', 'log1p', 'expm1',
  'round', 'sign', 'tan', 'atan', 'atan2', 'asin', 'acos', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh', 'log2', 'log10', 'cbrt',
  // no Math function: a helper (src/target/js.ts), the interpreter's own (src/ir/linalg.ts)
  'erf',
  // the language's own, with its rules (ties to the first argument, relu(NaN) = 0 …)
  'relu', 'sigmoid', 'softplus', 'elu', 'fmax', 'fmin',
] as const;
export type Intrinsic = (typeof INTRINSICS)[number];

export type LExpr =
  | { readonly kind: 'const'; readonly ty: Ty; readonly value: number }
  | { readonly kind: 'var'; readonly ty: Ty; readonly v: Sym }
  /** buf[index] (index in elements of the buffer; bytes for a `u8` memory); `inBounds` when the
   * lowering proved it, else the target reads 0 outside (JavaScript's undefined → guarded) */
  | { readonly kind: 'load'; readonly ty: Ty; readonly buf: Buf; readonly index: LExpr; readonly inBounds: boolean }
  | { readonly kind: 'unary'; readonly ty: Ty; readonly op: UnaryOp; readonly a: LExpr }
  | { readonly kind: 'binary'; readonly ty: Ty; readonly op: BinaryOp; readonly a: LExpr; readonly b: LExpr }
  | { readonly kind: 'select'; readonly ty: Ty; readonly cond: LExpr; readonly then: LExpr; readonly else: LExpr }
  | { readonly kind: 'call'; readonly ty: Ty; readonly fn: Intrinsic; readonly args: readonly LExpr[] }
  /** the length of a buffer, in elements */
  | { readonly kind: 'length'; readonly ty: 'i32'; readonly buf: Buf }
  /** the next iteration this thread takes of a loop shared out as it runs: an atomic add on the
   * claim word buf[slot] (args: slot, part, parts, trips); −1 once every one is taken. With 2 parts,
   * part 0 takes them from the front, part 1 from the back (opt/splitParallelLoop.ts) */
  | { readonly kind: 'claim'; readonly ty: 'i32'; readonly buf: Buf; readonly args: readonly LExpr[] };

/** `workgroup` (WebGPU): the iterations run together as one workgroup of invocations, sharing the
 * workgroup allocations in scope and waiting for each other at every `barrier` in the body. */
export type LoopKind = 'serial' | 'parallel' | 'unrolled' | 'vectorized' | 'workgroup';

/** Where an allocation lives: made on every call, per worker thread, once per module (grown on
 * demand), or once per workgroup of a `workgroup` loop (WebGPU shared memory; a constant size). */
export type AllocScope = 'call' | 'thread' | 'module' | 'workgroup';

/** The WebAssembly micro-kernel modules a kernel may call (one instance per module, per dtype). */
export type MicroModule = 'gemm64' | 'gemm32';

export type LStmt =
  /** for v in [lo, hi) by step; `nonEmpty` when the lowering guarantees lo < hi (a do-while suffices) */
  | {
      readonly kind: 'for';
      readonly v: Sym;
      readonly lo: LExpr;
      readonly hi: LExpr;
      readonly step: LExpr;
      readonly loop: LoopKind;
      readonly body: readonly LStmt[];
      readonly nonEmpty?: boolean;
    }
  | { readonly kind: 'let'; readonly v: Sym; readonly init: LExpr; readonly mutable: boolean }
  | { readonly kind: 'assign'; readonly v: Sym; readonly value: LExpr }
  | { readonly kind: 'store'; readonly buf: Buf; readonly index: LExpr; readonly value: LExpr }
  | { readonly kind: 'if'; readonly cond: LExpr; readonly then: readonly LStmt[]; readonly else: readonly LStmt[] }
  /** a scratch array of `size` elements; `zero`: every element 0 (else its contents are unspecified) */
  | { readonly kind: 'alloc'; readonly buf: Buf; readonly size: LExpr; readonly scope: AllocScope; readonly zero: boolean }
  /** buf becomes a view of `count` elements (all to its end without one) of a micro-kernel module's memory at byte `offset` */
  | { readonly kind: 'view'; readonly buf: Buf; readonly module: MicroModule; readonly offset: LExpr; readonly count?: LExpr }
  /** dst[dstAt .. dstAt+count) = src[srcAt .. srcAt+count) (buffers of one element type, not overlapping) */
  | { readonly kind: 'copy'; readonly dst: Buf; readonly dstAt: LExpr; readonly src: Buf; readonly srcAt: LExpr; readonly count: LExpr }
  /** buf[from .. to) = value */
  | { readonly kind: 'fill'; readonly buf: Buf; readonly from: LExpr; readonly to: LExpr; readonly value: LExpr }
  /** a call of a micro-kernel module's function, with i32 arguments (byte offsets, counts) */
  | { readonly kind: 'microkernel'; readonly module: MicroModule; readonly fn: string; readonly args: readonly LExpr[] }
  /** buf is the buffer `then` where cond holds, else `else` (a tensor or its padded copy) */
  | { readonly kind: 'choose'; readonly buf: Buf; readonly cond: LExpr; readonly then: Buf; readonly else: Buf }
  /** dst = fn of the n×n row-major matrix src, by an LU factorisation with partial pivoting: the n×n
   *  inverse, or det / log |det| in dst[0]; a singular matrix (for inv and logdet) throws an Error
   *  that names `what` (the target's helper, src/target/linalgHelper.ts) */
  | { readonly kind: 'linalg'; readonly fn: 'inv' | 'det' | 'logdet'; readonly src: Buf; readonly n: LExpr; readonly dst: Buf; readonly what: string }
  /** throw an Error: `text` with each FAIL_SLOT k replaced by values[k] (integer data out of range;
   *  a kernel with one runs in JavaScript, chooseTarget.ts) */
  | { readonly kind: 'fail'; readonly text: string; readonly values: readonly LExpr[] }
  /** a nested scope: its bindings end with it */
  | { readonly kind: 'block'; readonly body: readonly LStmt[] }
  /** every iteration of the enclosing `workgroup` loop reaches this point before any goes on */
  | { readonly kind: 'barrier' }
  | { readonly kind: 'comment'; readonly text: string };

export interface KernelBuffer {
  readonly buf: Buf;
  /** the key of the tensor record the kernel is called with (the user's name) */
  readonly key: string;
  readonly role: 'read' | 'write';
}

export interface KernelSize {
  readonly v: Sym;
  /** the key of the size record (the user's name) */
  readonly key: string;
}

/** One kernel: a function of tensors and sizes. */
export interface Kernel {
  readonly name: string;
  /** the statement it computes, in the language (for the doc comment) */
  readonly formula: string;
  readonly dtype: 'f32' | 'f64';
  readonly buffers: readonly KernelBuffer[];
  readonly sizes: readonly KernelSize[];
  readonly body: readonly LStmt[];
  /** where it runs: as a WebAssembly function over a copy of its tensors (chooseTarget.ts), else JavaScript */
  readonly runs?: 'wasm';
  /** it reads integer input data (E[tok[n], d]) and checks it first (checkDataLoops.ts) */
  readonly data?: true;
  /** with runs 'wasm': statements run in JavaScript before the WebAssembly call — the data check,
   *  whose error message only JavaScript can make (chooseTarget.ts) */
  readonly prologue?: readonly LStmt[];
  /** its work is shared out between worker threads: each runs the part its sizes `#part` of `#parts`
   * say (opt/splitParallelLoop.ts); a kernel without it runs on one worker */
  readonly threads?: 'split';
}

/** the size keys a split kernel reads its share from (no program size can be spelt with `#`) */
export const PART_KEY = '#part';
export const PARTS_KEY = '#parts';

/** A function of a micro-kernel module: i32 parameters over the module's byte-addressed memory `mem`. */
export interface MicroFunction {
  readonly name: string;
  readonly params: readonly Sym[];
  readonly mem: Buf;
  readonly body: readonly LStmt[];
}

/** Where value k goes in a `fail` statement's text: FAIL_SLOT(k). */
export const FAIL_SLOT = (k: number): string => `\u0000${k}\u0000`;

export function assertNever(x: never): never {
  throw new Error(`internal: unexpected loop IR node ${JSON.stringify(x)}`);
}

export const isVector = (t: Ty): t is VectorTy => t === 'f32x4' || t === 'f64x2' || t === 'i32x4';
export const laneOf = (t: VectorTy): ScalarTy => (t === 'f32x4' ? 'f32' : t === 'f64x2' ? 'f64' : 'i32');
export const isFloat = (t: Ty): boolean => t === 'f32' || t === 'f64' || t === 'f32x4' || t === 'f64x2';
export const elemBytes = (e: ElemTy | Ty): number => (e === 'u8' || e === 'bool' ? 1 : e === 'f64' ? 8 : e === 'f32' || e === 'i32' ? 4 : 16);
