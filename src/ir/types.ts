// The deltagrad IR: sizes, affine index expressions, scalar expressions and programs.
//
// Worked example: `Y[n,f,u,v] = K[f,c,i,j] * X[n,c,u*T+i-P,v*T+j-P] + b[f]` becomes
//   Statement { tensor: 'Y', lhs: [n,f,u,v],
//     rhs: add[ reduce(sum; c,i,j) mul[ access K[f,c,i,j], access X[n,c,{u:T, i:1, const:-P}, ...] ],
//               access b[f] ] }
// Every node is a plain readonly object with a `kind`; every switch over kinds ends in assertNever.

/** A polynomial in size names with integer coefficients: `2*P - R + H` or `T`.
 *  Keys are monomials (size names sorted and joined by `*`; '' is the constant). */
export type Poly = ReadonlyMap<string, number>;

/** A size-valued expression (tensor dimensions, index extents). `/` is floor division. */
export type SizeExpr =
  | { readonly kind: 'poly'; readonly poly: Poly }
  | { readonly kind: 'div'; readonly num: SizeExpr; readonly den: SizeExpr }
  | { readonly kind: 'sum'; readonly terms: readonly SizeExpr[] };

/** An index atom: a plain index variable, or the floor quotient / remainder of an index expression. */
export type Atom =
  | { readonly kind: 'var'; readonly name: string }
  | { readonly kind: 'div'; readonly of: IndexExpr; readonly by: Poly }
  | { readonly kind: 'mod'; readonly of: IndexExpr; readonly by: Poly }
  /** the value of an element of an integer input tensor (`tok[n]` in `E[tok[n], d]`): a
   *  data-dependent subscript, never solved for (it has no inverse) */
  | { readonly kind: 'read'; readonly tensor: string; readonly subs: readonly IndexExpr[] };

/** Σ coef·atom + constant, with coefficients that are integer polynomials in sizes (`u*T + i - P`). */
export interface IndexExpr {
  readonly terms: readonly { readonly atom: Atom; readonly coef: Poly }[];
  readonly constant: Poly;
}

/** A bound index with its extent: the index runs over 0 ≤ i < extent. */
export interface Bound {
  readonly name: string;
  readonly extent: SizeExpr;
}

export type ReduceOp = 'sum' | 'max' | 'min' | 'mean' | 'logsumexp' | 'prod';
export type MatrixFn = 'inv' | 'det' | 'logdet';
export type CompareOp = '>' | '<' | '>=' | '<=' | '==' | '!=';

export const BUILTINS = [
  'relu', 'sigmoid', 'tanh', 'exp', 'log', 'sqrt', 'abs', 'sin', 'cos', 'softplus', 'elu', 'max', 'min', 'pow', 'where',
  'floor', 'ceil', 'round', 'sign', 'tan', 'atan', 'atan2', 'asin', 'acos', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh',
  'erf', 'log2', 'log10', 'cbrt', 'clamp',
] as const;
export type Builtin = (typeof BUILTINS)[number];

export type Expr =
  | { readonly kind: 'num'; readonly value: number }
  /** the value of a size expression, e.g. `N` in `/ N` */
  | { readonly kind: 'sizeval'; readonly size: SizeExpr }
  /** the value of an index expression, e.g. `i` in `where(i > 0, …)` or `(h+P-i) % T` */
  | { readonly kind: 'index'; readonly expr: IndexExpr }
  /** a tensor element; scalars have no subscripts */
  | { readonly kind: 'access'; readonly tensor: string; readonly subs: readonly IndexExpr[] }
  | { readonly kind: 'add'; readonly terms: readonly Expr[] }
  | { readonly kind: 'mul'; readonly factors: readonly Expr[] }
  | { readonly kind: 'div'; readonly num: Expr; readonly den: Expr }
  | { readonly kind: 'pow'; readonly base: Expr; readonly exp: Expr }
  | { readonly kind: 'neg'; readonly arg: Expr }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly a: Expr; readonly b: Expr }
  | { readonly kind: 'call'; readonly fn: Builtin; readonly args: readonly Expr[] }
  | { readonly kind: 'reduce'; readonly op: ReduceOp; readonly indices: readonly Bound[]; readonly body: Expr }
  /** 1 when `at` is the first arg-max (arg-min) of `body` over `indices` in row-major order, else 0 */
  | {
      readonly kind: 'argmax';
      readonly op: 'max' | 'min';
      readonly indices: readonly Bound[];
      readonly at: readonly IndexExpr[];
      readonly body: Expr;
    }
  /** A function of the square matrix M[p,q] = body, p and q bound over the same extent: det(M), logdet(M)
   *  = log |det M| (no `at`), or the element (M⁻¹)[at] of the inverse. Computed by an LU
   *  factorisation; printed `det(A)`, `inv(A)[i,j]` when M is a whole tensor A, else
   *  `det(p:N, q:N) body`, `inv(p:N, q:N @ i, j) body`. */
  | {
      readonly kind: 'matfn';
      readonly fn: MatrixFn;
      readonly indices: readonly Bound[];
      readonly at: readonly IndexExpr[];
      readonly body: Expr;
      /** the tensor when M is all of it (body T[p,q] over T's dimensions): printed det(T), inv(T)[i,j] */
      readonly of?: string;
    }
  /** Kronecker delta δ(a, b); only lives inside the differentiator, never in a finished program */
  | { readonly kind: 'delta'; readonly a: IndexExpr; readonly b: IndexExpr };

export type ExprKind = Expr['kind'];

export interface Statement {
  readonly tensor: string;
  readonly lhs: readonly Bound[];
  readonly rhs: Expr;
  /** 1-based source line of the statement (0 for generated statements) */
  readonly line: number;
  /** written in matrix notation (f = x'*A*x), which the checker expanded to index notation */
  readonly notation?: 'matrix';
  /** where its left side stands in the source (for error messages; absent in generated statements) */
  readonly span?: { readonly line: number; readonly col: number; readonly length: number };
  /** a scatter-add, `dE[tok[n], d] += dY[n, d]`: for every value of `lhs` (its loop indices, not the
   *  tensor's dimensions) rhs is added to the element `at` of the tensor, which an earlier statement
   *  assigned. The gradient of a data-dependent read; it runs in O(its loop trips). */
  readonly scatter?: { readonly at: readonly IndexExpr[] };
}

/** `constant`: a named real number (`const eps = 1e-5`), read as a scalar, never differentiated */
export type Role = 'input' | 'output' | 'intermediate' | 'constant';

export interface TensorInfo {
  readonly name: string;
  readonly shape: readonly SizeExpr[];
  readonly role: Role;
  readonly declared: boolean;
  /** a constant's value */
  readonly value?: number;
  /** `int`: an integer input (`tok: int[N]`), read only as a subscript or an index value, never differentiated */
  readonly elem?: 'int';
  /** where the tensor first appears in the source (for error messages) */
  readonly span?: { readonly line: number; readonly col: number; readonly length: number };
}

export interface SizeInfo {
  readonly name: string;
  readonly default?: number;
  /** true when no `dims` line declared it (it came from a shape or an undeclared tensor) */
  readonly implicit: boolean;
}

export interface Program {
  readonly sizes: readonly SizeInfo[];
  /** every tensor, in order of first appearance */
  readonly tensors: readonly TensorInfo[];
  readonly statements: readonly Statement[];
  readonly source: string;
}

export function assertNever(x: never): never {
  throw new Error(`internal: unexpected IR node ${JSON.stringify(x)}`);
}

export function tensorInfo(p: Program, name: string): TensorInfo | undefined {
  return p.tensors.find((t) => t.name === name);
}

export const inputsOf = (p: Program): string[] => p.tensors.filter((t) => t.role === 'input').map((t) => t.name);
export const outputsOf = (p: Program): string[] => p.tensors.filter((t) => t.role === 'output').map((t) => t.name);
