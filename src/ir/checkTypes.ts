// checkTypes: what the checker's parts share — the program-level scope a statement is checked in
// (checkStatement.ts sees the Checker of check.ts only through it), a def, an access, and the
// arities of the built-in functions.
//
// Worked example: while `Y[n,f] = relu(X[n,d]*W[f,d] + b[f])` is checked, the scope says that N, D, F
// are sizes, X and W are declared with their shapes, and `b` is not yet known (noteRead records it,
// isTensorName says whether a name is one).
import type { Span } from './errors.js';
import type { Limits } from './limits.js';
import type { Ast } from './parse.js';
import { sizeConst } from './sizes.js';
import type { Builtin, IndexExpr, SizeExpr, SizeInfo } from './types.js';

export const ARITY: Record<Builtin, readonly [number, number]> = {
  relu: [1, 1],
  sigmoid: [1, 1],
  tanh: [1, 1],
  exp: [1, 1],
  log: [1, 1],
  sqrt: [1, 1],
  abs: [1, 1],
  sin: [1, 1],
  cos: [1, 1],
  softplus: [1, 1],
  elu: [1, 2],
  max: [2, 2],
  min: [2, 2],
  pow: [2, 2],
  where: [3, 3],
  floor: [1, 1],
  ceil: [1, 1],
  round: [1, 1],
  sign: [1, 1],
  tan: [1, 1],
  atan: [1, 1],
  atan2: [2, 2],
  asin: [1, 1],
  acos: [1, 1],
  sinh: [1, 1],
  cosh: [1, 1],
  asinh: [1, 1],
  acosh: [1, 1],
  atanh: [1, 1],
  erf: [1, 1],
  log2: [1, 1],
  log10: [1, 1],
  cbrt: [1, 1],
  clamp: [3, 3],
};

export interface Def {
  readonly params: readonly string[];
  readonly body: Ast;
  readonly span: Span;
}

export interface Use {
  readonly tensor: string;
  readonly subs: readonly IndexExpr[];
  readonly span: Span;
}

/** def functions inlined inside one another at most this deep (a chain of 10 000 would overflow the stack). */
export const MAX_INLINE_DEPTH = 200;

/** Placeholder extent of a bound index until ranges are inferred. */
export const UNKNOWN: SizeExpr = sizeConst(-1);

/** The Checker, as a statement's checker sees it. */
export interface ProgramScope {
  readonly sizes: ReadonlyMap<string, SizeInfo>;
  readonly defs: ReadonlyMap<string, Def>;
  readonly consts: ReadonlyMap<string, { readonly value: number; readonly span: Span }>;
  readonly declared: ReadonlyMap<string, { readonly shape: SizeExpr[]; readonly span: Span }>;
  /** shapes known so far: declared, inferred from plain subscripts, or of assigned tensors */
  readonly shapes: Map<string, SizeExpr[]>;
  readonly limits: Required<Limits>;
  /** integer inputs (`tok: int[N]`), read as subscripts or index values */
  readonly ints: ReadonlySet<string>;
  isTensorName(n: string): boolean;
  /** a tensor or constant anywhere in the program (assigned later, too) */
  isProgramName(n: string): boolean;
  /** record the first appearance of a name (the order of the program's tensors) */
  see(name: string, span?: Span): void;
  noteRead(tensor: string, span: Span, current: string): void;
  defaultsMap(): Map<string, number>;
  ensureSizePublic(name: string): void;
  freshSize(preferred: string): string;
}
