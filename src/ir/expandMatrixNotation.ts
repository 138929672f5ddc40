// expandMatrixNotation: a statement in matrix notation (LANGUAGE.md v2) → the same statement in index
// notation, which the statement checker then takes as any other. A declared tensor of rank 0, 1 or 2
// named without subscripts is the whole scalar, column vector or matrix; `'` transposes, `*` is the
// matrix product (a scaling beside a scalar), `.*` `./` `.^` and every function of the language act
// elementwise, and tr det logdet inv diag sum norm1 norm2 eye ones are the matrix functions (a table,
// MATRIX_FUNCTIONS). Each matrix product sums over an index of its own, with its range written out.
//
// Worked example, with x: [N] and A: [N, N]:
//   f = x'*A*x      →   f = sum(j:N) (sum(i:N) x[i]*A[i,j])*x[j]
//   H = inv(A)*X    →   H[i,j] = sum(k:N) inv(p:N, q:N @ i, k) A[p,q] * X[k,j]      (H: [N, M])
// A shape that does not fit (`A*x` with A: [N, M], x: [K]) is an error at the operator naming both.
import { fail, type Span } from './errors.js';
import { namesIn } from './astNames.js';
import type { Ast, Line } from './parse.js';
import { printSize, sizeEquals, sizeTryEval } from './sizes.js';
import { assertNever, type SizeExpr } from './types.js';

/** rows × cols; null is the unit dimension of a vector or a scalar (x is N×1, x' is 1×N). */
interface Shape {
  readonly rows: SizeExpr | null;
  readonly cols: SizeExpr | null;
}

const SCALAR: Shape = { rows: null, cols: null };
const isScalar = (s: Shape) => s.rows === null && s.cols === null;

/** What the translation needs of the program around the statement. */
export interface MatrixScope {
  readonly sizes: ReadonlyMap<string, unknown>;
  readonly consts: ReadonlyMap<string, unknown>;
  readonly shapes: ReadonlyMap<string, readonly SizeExpr[]>;
  defaultsMap(): ReadonlyMap<string, number>;
}

type Assign = Extract<Line, { k: 'assign' }>;

/** Element of a translated expression at (row, col); an index is an Ast (a name, usually). */
type Element = (r: Ast | undefined, c: Ast | undefined) => Ast;

interface Translated {
  readonly shape: Shape;
  readonly el: Element;
}

/** A matrix function: its shape from its arguments', and its element from theirs. */
interface MatrixFunction {
  readonly arity: readonly [number, number];
  /** size arguments (eye(N), ones(N, M)) instead of matrices */
  readonly sizes?: boolean;
  readonly apply: (args: readonly Translated[], t: Translator, span: Span, sizeArgs: readonly SizeExpr[]) => Translated;
}

function describe(s: Shape): string {
  if (isScalar(s)) return 'a scalar';
  if (s.cols === null) return `[${printSize(s.rows!)}] (a column vector)`;
  if (s.rows === null) return `[${printSize(s.cols)}]ᵀ (a row vector)`;
  return `[${printSize(s.rows)}, ${printSize(s.cols)}] (a matrix)`;
}

/** The matrix functions, as data: tr det logdet inv diag sum norm1 norm2 eye ones. */
const MATRIX_FUNCTIONS: Record<string, MatrixFunction> = {
  // tr A = Σ_k A[k,k]
  tr: {
    arity: [1, 1],
    apply: ([a], t, span) => {
      const n = t.square('tr', a!.shape, span);
      return { shape: SCALAR, el: () => t.sum([n], span, ([k]) => a!.el(k, k)) };
    },
  },
  det: { arity: [1, 1], apply: ([a], t, span) => t.binder('det', a!, span) },
  logdet: { arity: [1, 1], apply: ([a], t, span) => t.binder('logdet', a!, span) },
  inv: { arity: [1, 1], apply: ([a], t, span) => t.binder('inv', a!, span) },
  // diag(x)[i,j] = x[i]·(i == j); diag(A)[i] = A[i,i]
  diag: {
    arity: [1, 1],
    apply: ([a], t, span) => {
      const s = a!.shape;
      if (s.rows !== null && s.cols !== null) {
        const n = t.square('diag', s, span);
        return { shape: { rows: n, cols: null }, el: (r) => a!.el(r, r) };
      }
      if (isScalar(s)) fail('shape-mismatch', 'diag takes a vector (→ a diagonal matrix) or a square matrix (→ its diagonal), found a scalar', span);
      const n = (s.rows ?? s.cols)!;
      const pick = (r: Ast | undefined, c: Ast | undefined) => (s.rows !== null ? a!.el(r, undefined) : a!.el(undefined, r ?? c));
      return { shape: { rows: n, cols: n }, el: (r, c) => binary('*', pick(r, c), { k: 'compare', op: '==', a: r!, b: c!, span }, span) };
    },
  },
  // every element, added
  sum: { arity: [1, 1], apply: ([a], t, span) => t.total(a!, span, (x) => x) },
  norm1: { arity: [1, 1], apply: ([a], t, span) => t.total(a!, span, (x) => ({ k: 'call', name: 'abs', args: [x], span })) },
  // √(Σ x²): the Euclidean norm of a vector, the Frobenius norm of a matrix
  norm2: {
    arity: [1, 1],
    apply: ([a], t, span) => {
      const squares = t.total(a!, span, (x) => binary('^', x, num(2, span), span));
      return { shape: SCALAR, el: () => ({ k: 'call', name: 'sqrt', args: [squares.el(undefined, undefined)], span }) };
    },
  },
  eye: { arity: [1, 1], sizes: true, apply: (_, _t, span, [n]) => ({ shape: { rows: n!, cols: n! }, el: (r, c) => ({ k: 'compare', op: '==', a: r!, b: c!, span }) }) },
  ones: {
    arity: [1, 2],
    sizes: true,
    apply: (_, _t, span, [n, m]) => ({ shape: { rows: n!, cols: m ?? null }, el: () => num(1, span) }),
  },
};

const num = (value: number, span: Span): Ast => ({ k: 'num', value, span });
const name = (n: string, span: Span): Ast => ({ k: 'name', name: n, span });
const binary = (op: '+' | '-' | '*' | '/' | '^', a: Ast, b: Ast, span: Span): Ast => ({ k: 'binary', op, a, b, span });

type Head = Extract<Ast, { k: 'reduce' }>['heads'][number];

/** Σ_heads x·y, with the sums of x and y (a chain's inner products) joined to it: Σ_k (Σ_j a·b)·c is
 *  Σ_{k,j} a·b·c (every index here is new, so none is captured). */
function flatProduct(heads: readonly Head[], x: Ast, y: Ast, span: Span): Ast {
  const all = [...heads];
  const open = (e: Ast): Ast => {
    if (e.k === 'reduce' && e.op === 'sum' && !e.at) {
      all.push(...e.heads);
      return open(e.body);
    }
    return e;
  };
  const body = binary('*', open(x), open(y), span);
  return all.length ? { k: 'reduce', op: 'sum', heads: all, body, span } : body;
}

/** A size as an expression of the language (for a reduction's range). */
function sizeAst(s: SizeExpr, span: Span): Ast {
  switch (s.kind) {
    case 'poly': {
      let out: Ast | undefined;
      for (const [mono, k] of s.poly) {
        const names = mono ? mono.split('*').map((n) => name(n, span)) : [];
        const factors = [...(Math.abs(k) !== 1 || names.length === 0 ? [num(Math.abs(k), span)] : []), ...names];
        const term = factors.reduce((a, b) => binary('*', a, b, span));
        out = out === undefined ? (k < 0 ? { k: 'unary', arg: term, span } : term) : binary(k < 0 ? '-' : '+', out, term, span);
      }
      return out ?? num(0, span);
    }
    case 'div':
      return binary('/', sizeAst(s.num, span), sizeAst(s.den, span), span);
    case 'sum':
      return s.terms.map((t) => sizeAst(t, span)).reduce((a, b) => binary('+', a, b, span));
    default:
      return assertNever(s);
  }
}

function kidsOf(a: Ast): readonly Ast[] {
  switch (a.k) {
    case 'num':
    case 'name':
      return [];
    case 'access':
      return a.subs;
    case 'unary':
    case 'transpose':
      return [a.arg];
    case 'binary':
    case 'compare':
      return [a.a, a.b];
    case 'call':
      return [...a.args, ...(a.subs ?? [])];
    case 'reduce':
      return [...(a.at ?? []), a.body];
    default:
      return assertNever(a);
  }
}

/** Each name of a tree, left to right; a matrix function's body is left to the caller. */
function visitNames(a: Ast, f: (n: string) => void): void {
  switch (a.k) {
    case 'num':
      return;
    case 'name':
      return f(a.name);
    case 'access':
      return a.subs.forEach((s) => visitNames(s, f));
    case 'unary':
    case 'transpose':
      return visitNames(a.arg, f);
    case 'binary':
    case 'compare':
      visitNames(a.a, f);
      return visitNames(a.b, f);
    case 'call':
      a.args.forEach((s) => visitNames(s, f));
      return a.subs?.forEach((s) => visitNames(s, f));
    case 'reduce':
      // a sum's indices as its body meets them; a matrix function's (its rows and columns, in
      // order, and hidden in det(A)) after all others
      a.at?.forEach((s) => visitNames(s, f));
      if (a.op === 'sum') visitNames(a.body, f);
      return a.heads.forEach((h) => f(h.name));
    default:
      return assertNever(a);
  }
}

/** The tree with names renamed; a reduction's heads listed in the order of `rank` (the new names'). */
function renameAst(a: Ast, map: ReadonlyMap<string, string>, rank: readonly string[] = []): Ast {
  const go = (x: Ast): Ast => renameAst(x, map, rank);
  switch (a.k) {
    case 'num':
      return a;
    case 'name':
      return map.has(a.name) ? { ...a, name: map.get(a.name)! } : a;
    case 'access':
      return { ...a, subs: a.subs.map(go) };
    case 'unary':
    case 'transpose':
      return { ...a, arg: go(a.arg) };
    case 'binary':
    case 'compare':
      return { ...a, a: go(a.a), b: go(a.b) };
    case 'call':
      return { ...a, args: a.args.map(go), ...(a.subs ? { subs: a.subs.map(go) } : {}) };
    case 'reduce': {
      const heads = a.heads.map((h) => ({ ...h, name: map.get(h.name) ?? h.name }));
      // a sum's heads in any order (a matrix function's are its rows and columns)
      const sorted = a.op === 'sum' && heads.every((h) => rank.includes(h.name)) ? [...heads].sort((x, y) => rank.indexOf(x.name) - rank.indexOf(y.name)) : heads;
      return { ...a, heads: sorted, ...(a.at ? { at: a.at.map(go) } : {}), body: go(a.body) };
    }
    default:
      return assertNever(a);
  }
}

const INDEX_NAMES = ['i', 'j', 'k', 'l', 'm', 'n', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w'];

class Translator {
  /** set when the statement uses matrix notation at all */
  matrix = false;
  private next = 0;
  /** the new names, in the order they were made */
  readonly made: string[] = [];

  constructor(
    private readonly scope: MatrixScope,
    private readonly taken: ReadonlySet<string>,
    /** index names of the statement's own index notation (subscripts, reduction heads) */
    private readonly indexNames: ReadonlySet<string>,
  ) {}

  /** A new index name: not a name of the statement or the program, nor one whose capital is (the
   *  checker reads a capital N beside an index n as n's size). */
  fresh(): string {
    for (;;) {
      const k = this.next++;
      const base = INDEX_NAMES[k % INDEX_NAMES.length]!;
      const round = Math.floor(k / INDEX_NAMES.length);
      const n = round ? `${base}${round + 1}` : base;
      const upper = n.toUpperCase();
      if (this.taken.has(n) || this.scope.sizes.has(n) || this.scope.shapes.has(n) || this.scope.consts.has(n)) continue;
      if (upper !== n && this.taken.has(upper) && !this.scope.sizes.has(upper)) continue;
      this.made.push(n);
      return n;
    }
  }

  same(a: SizeExpr | null, b: SizeExpr | null): boolean {
    if (a === null || b === null) return a === b;
    if (sizeEquals(a, b)) return true;
    const d = this.scope.defaultsMap();
    const [x, y] = [sizeTryEval(a, d), sizeTryEval(b, d)];
    return x !== undefined && x === y;
  }

  square(fn: string, s: Shape, span: Span): SizeExpr {
    if (s.rows === null || s.cols === null || !this.same(s.rows, s.cols))
      fail('shape-mismatch', `${fn} needs a square matrix, found ${describe(s)}`, span, fn === 'diag' ? 'diag takes a vector or a square matrix' : `${fn}(A) with A: [N, N]`);
    return s.rows!;
  }

  /** Σ over new indices with the given extents (written out as their ranges). */
  sum(extents: readonly SizeExpr[], span: Span, body: (ks: Ast[]) => Ast): Ast {
    const names = extents.map(() => this.fresh());
    const heads = names.map((n, d) => ({ name: n, range: sizeAst(extents[d]!, span), span }));
    const inner = body(names.map((n) => name(n, span)));
    // Σ_k Σ_j e is Σ_{k,j} e
    if (inner.k === 'reduce' && inner.op === 'sum' && !inner.at) return { ...inner, heads: [...heads, ...inner.heads], span };
    return { k: 'reduce', op: 'sum', heads, body: inner, span };
  }

  /** Σ of f(element) over every element: a scalar. */
  total(a: Translated, span: Span, f: (x: Ast) => Ast): Translated {
    const s = a.shape;
    const dims = [s.rows, s.cols].filter((d): d is SizeExpr => d !== null);
    if (dims.length === 0) return { shape: SCALAR, el: () => f(a.el(undefined, undefined)) };
    return {
      shape: SCALAR,
      el: () =>
        this.sum(dims, span, (ks) => {
          const [r, c] = s.rows !== null ? [ks[0], ks[1]] : [undefined, ks[0]];
          return f(a.el(r, c));
        }),
    };
  }

  /** det, logdet or inv of a square matrix, as a binder over its matrix: det(p:N, q:N) M[p,q]. */
  binder(fn: 'det' | 'logdet' | 'inv', a: Translated, span: Span): Translated {
    const n = this.square(fn, a.shape, span);
    const el: Element = (r, c) => {
      const [p, q] = [this.fresh(), this.fresh()];
      const heads = [p, q].map((x) => ({ name: x, range: sizeAst(n, span), span }));
      return { k: 'reduce', op: fn, heads, ...(fn === 'inv' ? { at: [r!, c!] } : {}), body: a.el(name(p, span), name(q, span)), span };
    };
    return { shape: fn === 'inv' ? { rows: n, cols: n } : SCALAR, el };
  }

  /** Shapes of the operands of an elementwise operation: equal, or scalars beside one shape. */
  private broadcast(what: string, args: readonly Translated[], span: Span): Shape {
    const shaped = args.filter((a) => !isScalar(a.shape));
    const first = shaped[0]?.shape ?? SCALAR;
    for (const a of shaped.slice(1))
      if (!this.same(a.shape.rows, first.rows) || !this.same(a.shape.cols, first.cols))
        fail('shape-mismatch', `${what} needs operands of one shape (or a scalar), found ${describe(first)} and ${describe(a.shape)}`, span, 'transpose one of them with `\'`, or use `*` for the matrix product');
    return first;
  }

  private elementwise(what: string, args: readonly Translated[], span: Span, build: (xs: Ast[]) => Ast): Translated {
    const shape = this.broadcast(what, args, span);
    if (!isScalar(shape)) this.matrix = true;
    return { shape, el: (r, c) => build(args.map((a) => (isScalar(a.shape) ? a.el(undefined, undefined) : a.el(r, c)))) };
  }

  /** A·B: B's rows must be A's columns; Σ over a new index unless they are a vector's unit dimension. */
  private product(a: Translated, b: Translated, span: Span, text: string): Translated {
    const [sa, sb] = [a.shape, b.shape];
    if (!this.same(sa.cols, sb.rows))
      fail('shape-mismatch', `${text} is a matrix product, and ${describe(sa)} times ${describe(sb)} do not fit: the columns of the left (${sa.cols ? printSize(sa.cols) : '1'}) must be the rows of the right (${sb.rows ? printSize(sb.rows) : '1'})`, span, 'transpose an operand with `\'`, or use `.*` for the elementwise product');
    this.matrix = true;
    const shape = { rows: sa.rows, cols: sb.cols };
    if (sa.cols === null) return { shape, el: (r, c) => flatProduct([], a.el(r, undefined), b.el(undefined, c), span) };
    return {
      shape,
      el: (r, c) => {
        const [k] = [this.fresh()];
        const ki = name(k, span);
        return flatProduct([{ name: k, range: sizeAst(sa.cols!, span), span }], a.el(r, ki), b.el(ki, c), span);
      },
    };
  }

  /** The translation of one expression: its shape and how to read its elements. */
  tr(e: Ast): Translated {
    switch (e.k) {
      case 'num':
        return { shape: SCALAR, el: () => e };
      case 'name': {
        const shape = this.scope.shapes.get(e.name);
        if (this.indexNames.has(e.name) || this.scope.sizes.has(e.name) || this.scope.consts.has(e.name) || !shape || shape.length === 0) return { shape: SCALAR, el: () => e };
        if (shape.length > 2)
          fail('rank-mismatch', `${e.name} has ${shape.length} dimensions: matrix notation takes scalars, vectors and matrices`, e.span, `read it with subscripts, ${e.name}[${shape.map((_, d) => INDEX_NAMES[d]).join(',')}]`);
        this.matrix = true;
        if (shape.length === 1) return { shape: { rows: shape[0]!, cols: null }, el: (r) => ({ k: 'access', name: e.name, subs: [r!], span: e.span }) };
        return { shape: { rows: shape[0]!, cols: shape[1]! }, el: (r, c) => ({ k: 'access', name: e.name, subs: [r!, c!], span: e.span }) };
      }
      case 'access':
        return { shape: SCALAR, el: () => e };
      case 'unary': {
        const a = this.tr(e.arg);
        return { shape: a.shape, el: (r, c) => ({ ...e, arg: a.el(r, c) }) };
      }
      case 'transpose': {
        this.matrix = true;
        const a = this.tr(e.arg);
        return { shape: { rows: a.shape.cols, cols: a.shape.rows }, el: (r, c) => a.el(c, r) };
      }
      case 'binary': {
        // norm2(u)^2 is Σ u², without the square root (whose derivative at u = 0 is not a number)
        if (e.op === '^' && e.a.k === 'call' && e.a.name === 'norm2' && e.a.args.length === 1 && e.b.k === 'num' && e.b.value === 2) {
          this.matrix = true;
          return this.total(this.tr(e.a.args[0]!), e.span, (x) => binary('^', x, num(2, e.span), e.span));
        }
        const a = this.tr(e.a);
        const b = this.tr(e.b);
        const scalar = isScalar(a.shape) || isScalar(b.shape);
        switch (e.op) {
          case '*':
            if (scalar) return this.elementwise('`*`', [a, b], e.span, ([x, y]) => ({ ...e, a: x!, b: y! }));
            return this.product(a, b, e.span, `\`*\``);
          case '/':
          case '^':
          case '%':
            if (!isScalar(b.shape) || (e.op !== '/' && !isScalar(a.shape)))
              fail(
                'shape-mismatch',
                e.op === '/' ? `\`/\` divides by a scalar, found ${describe(b.shape)}` : `\`${e.op}\` is an operator of scalars, found ${describe(isScalar(a.shape) ? b.shape : a.shape)}`,
                e.span,
                e.op === '/' ? 'use ./ for the elementwise quotient' : e.op === '^' ? 'use .^ for the elementwise power (A.^2), or A*A for the matrix square' : 'compute remainders on indices',
              );
            return this.elementwise(`\`${e.op}\``, [a, b], e.span, ([x, y]) => ({ ...e, a: x!, b: y! }));
          case '.*':
          case './':
          case '.^': {
            this.matrix = true;
            const op = e.op === '.*' ? '*' : e.op === './' ? '/' : '^';
            return this.elementwise(`\`${e.op}\``, [a, b], e.span, ([x, y]) => ({ ...e, op, a: x!, b: y! }));
          }
          case '+':
          case '-':
            return this.elementwise(`\`${e.op}\``, [a, b], e.span, ([x, y]) => ({ ...e, a: x!, b: y! }));
          default:
            return assertNever(e as never);
        }
      }
      case 'compare': {
        const a = this.tr(e.a);
        const b = this.tr(e.b);
        return this.elementwise(`\`${e.op}\``, [a, b], e.span, ([x, y]) => ({ ...e, a: x!, b: y! }));
      }
      case 'call': {
        const m = Object.hasOwn(MATRIX_FUNCTIONS, e.name) ? MATRIX_FUNCTIONS[e.name]! : undefined;
        // inv(A)[i,j], an element: index notation
        if (e.subs) return { shape: SCALAR, el: () => e };
        if (!m) return this.elementwise(`${e.name}(…)`, e.args.map((a) => this.tr(a)), e.span, (xs) => ({ ...e, args: xs }));
        this.matrix = true;
        const [lo, hi] = m.arity;
        if (e.args.length < lo || e.args.length > hi)
          fail('arity', `${e.name} takes ${lo === hi ? lo : `${lo} or ${hi}`} argument${hi === 1 ? '' : 's'}, found ${e.args.length}`, e.span, m.sizes ? `e.g. ${e.name}(N)` : `e.g. ${e.name}(A)`);
        if (m.sizes) return m.apply([], this, e.span, e.args.map((a) => this.size(a)));
        return m.apply(e.args.map((a) => this.tr(a)), this, e.span, []);
      }
      case 'reduce': {
        // index notation; its body (a scalar) may use matrix notation: sum(i) x[i]*norm2(y)
        const body = this.tr(e.body);
        if (!isScalar(body.shape)) fail('shape-mismatch', `the body of ${e.op}(…) must be a scalar, found ${describe(body.shape)}`, e.span);
        return { shape: SCALAR, el: () => ({ ...e, body: body.el(undefined, undefined) }) };
      }
      default:
        return assertNever(e);
    }
  }

  /** A size argument (eye(N), ones(N, M)): sizes, whole numbers, + - * and floor /. */
  private size(a: Ast): SizeExpr {
    const bad = (): never => fail('bad-size', 'eye and ones take sizes: size names and whole numbers', a.span, 'write eye(N) or ones(N, M)');
    const go = (x: Ast): SizeExpr => {
      if (x.k === 'num') return Number.isSafeInteger(x.value) && x.value >= 0 ? { kind: 'poly', poly: new Map(x.value ? [['', x.value]] : []) } : bad();
      if (x.k === 'name') return this.scope.sizes.has(x.name) ? { kind: 'poly', poly: new Map([[x.name, 1]]) } : bad();
      return bad();
    };
    return go(a);
  }
}

/** Whether the translation could find matrix notation in `a`: a read of a declared tensor of rank ≥ 1
 *  without subscripts, a transpose, `.*` `./` `.^`, or a matrix function. It may say yes when the
 *  translation then finds none (it looks inside subscripts too, and ignores index names), never the
 *  reverse; a no skips the translation, which a 10 000-term index-notation sum paid in full. */
function mayUseMatrixNotation(a: Ast, scope: MatrixScope): boolean {
  switch (a.k) {
    case 'num':
      return false;
    case 'name':
      return (scope.shapes.get(a.name)?.length ?? 0) > 0;
    case 'access':
      return anyMayUse(a.subs, scope);
    case 'unary':
      return mayUseMatrixNotation(a.arg, scope);
    case 'transpose':
      return true;
    case 'binary':
      return a.op === '.*' || a.op === './' || a.op === '.^' || mayUseMatrixNotation(a.a, scope) || mayUseMatrixNotation(a.b, scope);
    case 'compare':
      return mayUseMatrixNotation(a.a, scope) || mayUseMatrixNotation(a.b, scope);
    case 'call':
      return Object.hasOwn(MATRIX_FUNCTIONS, a.name) || anyMayUse(a.args, scope) || (a.subs !== undefined && anyMayUse(a.subs, scope));
    case 'reduce':
      return (a.at !== undefined && anyMayUse(a.at, scope)) || mayUseMatrixNotation(a.body, scope);
    default:
      return assertNever(a);
  }
}

/** mayUseMatrixNotation of any of the trees (a loop: no closure made per subscript list) */
function anyMayUse(as: readonly Ast[], scope: MatrixScope): boolean {
  for (let i = 0; i < as.length; i++) if (mayUseMatrixNotation(as[i]!, scope)) return true;
  return false;
}

/** The statement in index notation, with its left side's indices and shape; undefined when it uses
 *  no matrix notation (or has subscripts on the left: index notation). */
export function expandMatrixNotation(l: Assign, scope: MatrixScope): { line: Assign; shape: SizeExpr[] } | undefined {
  if (l.subs !== null || !mayUseMatrixNotation(l.rhs, scope)) return undefined;
  const taken = new Set<string>([l.name]);
  namesIn(l.rhs, taken);
  // names the statement's own index notation uses as indices
  const indexNames = new Set<string>();
  const collect = (a: Ast, inSub: boolean): void => {
    switch (a.k) {
      case 'num':
        return;
      case 'name':
        if (inSub) indexNames.add(a.name);
        return;
      case 'access':
        return a.subs.forEach((x) => collect(x, true));
      case 'unary':
      case 'transpose':
        return collect(a.arg, inSub);
      case 'binary':
      case 'compare':
        collect(a.a, inSub);
        return collect(a.b, inSub);
      case 'call':
        a.args.forEach((x) => collect(x, inSub));
        return a.subs?.forEach((x) => collect(x, true));
      case 'reduce':
        a.heads.forEach((h) => indexNames.add(h.name));
        a.at?.forEach((x) => collect(x, true));
        return collect(a.body, inSub);
      default:
        return assertNever(a);
    }
  };
  collect(l.rhs, false);
  const t = new Translator(scope, taken, indexNames);
  const rhs = t.tr(l.rhs);
  if (!t.matrix) return undefined;
  const s = rhs.shape;
  const r = s.rows !== null ? t.fresh() : undefined;
  const c = s.cols !== null ? t.fresh() : undefined;
  const span = l.span;
  const subs = [r, c].filter((x): x is string => x !== undefined).map((x) => name(x, span));
  const shape = [s.rows, s.cols].filter((d): d is SizeExpr => d !== null);
  const declared = scope.shapes.get(l.name);
  if (declared && (declared.length !== shape.length || !declared.every((d, k) => t.same(d, shape[k]!))))
    fail('shape-mismatch', `${l.name} is declared [${declared.map(printSize).join(', ')}] but its right side is ${describe(s)}`, span, 'declare it with the shape of its right side, or leave the declaration out');
  const body = rhs.el(r === undefined ? undefined : name(r, span), c === undefined ? undefined : name(c, span));
  // the new indices in the order a reader meets them: f = sum(i,j) x[i]*A[i,j]*x[j]
  const seen: string[] = [];
  const made = new Set(t.made);
  const meet = (n: string) => made.has(n) && !seen.includes(n) && seen.push(n);
  subs.forEach((s) => meet((s as { name: string }).name));
  const binders: Ast[] = [];
  visitNames(body, (n) => meet(n));
  // then the bodies of the matrix functions
  const bodies = (a: Ast): void => {
    if (a.k === 'reduce' && a.op !== 'sum') binders.push(a);
    for (const k of kidsOf(a)) bodies(k);
  };
  bodies(body);
  binders.forEach((b) => visitNames((b as Extract<Ast, { k: 'reduce' }>).body, meet));
  const order = new Map(seen.map((n, k) => [n, t.made[k]!] as const));
  const rename = (a: Ast): Ast => renameAst(a, order, t.made);
  return { line: { ...l, subs: subs.length ? subs.map(rename) : null, rhs: rename(body) }, shape };
}
