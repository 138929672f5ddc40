// checkStatement: one assignment's right side, surface syntax → IR — names resolved (indices,
// sizes, tensors, scalar inputs), `def` calls inlined, reductions and Einstein sums made explicit,
// subscripts made affine index expressions — then every index's range (inferRanges.ts).
//
// Worked example: `Y[n,f] = relu(X[n,d]*W[f,d] + b[f])` gives
//   Y[n,f] = relu(sum(d) X[n,d]*W[f,d] + b[f])        with n:N, f:F, d:D
// d is summed over the smallest additive term that holds all its uses (inside relu).
import { idxAdd, idxAsConst, idxAsVar, atomArgs, idxRead, idxDiv, idxMod, idxNeg, idxNum, idxScale, idxSizeName, idxSub, idxVar } from './affine.js';
import { fail, type Span } from './errors.js';
import { access, add, call, compare, div, mapChildren, mul, neg, num, pow, reduce } from './exprs.js';
import { MATRIX_BINDERS, type Ast, type Line } from './parse.js';
import {
  polyConstValue,
  polyIsPositive,
  printSize,
  sizeEquals,
  sizeTryEval,
  sizeAdd,
  sizeConst,
  sizeDiv,
  sizeMul,
  sizeName,
  sizeSub
} from './sizes.js';
import { suggest } from './suggest.js';
import { BUILTINS, type Bound, type Builtin, type Expr, type IndexExpr, type MatrixFn, type Poly, type SizeExpr, type Statement } from './types.js';

import { ARITY, MAX_INLINE_DEPTH, UNKNOWN, type ProgramScope, type Use } from './checkTypes.js';
import { inferRanges } from './inferRanges.js';

/** Functions of matrix notation only (they take whole vectors and matrices). */
export const MATRIX_ONLY: readonly string[] = ['tr', 'diag', 'norm1', 'norm2', 'eye', 'ones', 'sum'];

export class StatementChecker {
  readonly uses: Use[] = [];
  /** the same uses by tensor (a statement may read 20 000 tensors: no scan of them all per read) */
  readonly usesOf = new Map<string, Use[]>();
  /** every index name of the statement: left side, free, and bound (after renaming) */
  readonly indexNames = new Set<string>();
  readonly boundNames = new Set<string>();
  readonly boundRanges = new Map<string, SizeExpr>();
  readonly firstSpan = new Map<string, Span>();
  private readonly defStack: string[] = [];
  readonly matrixReads: { subs: readonly IndexExpr[]; extent: SizeExpr; what: string; span: Span }[] = [];
  /** matrix functions written with their indices, whose extents must agree once inferred */
  private readonly matrices: { fn: string; names: [string, string]; span: Span }[] = [];

  constructor(
    readonly c: ProgramScope,
    readonly name: string,
    readonly lhs: string[],
    readonly line: Extract<Line, { k: 'assign' }>,
    /** the left side's shape, when the statement was written in matrix notation (its indices are new) */
    readonly lhsShape?: readonly SizeExpr[],
    /** a scatter-add, T[tok[n], d] += …: lhs are its loop indices, not T's dimensions */
    readonly scatter = false,
  ) {}

  /** the integer tensors read as subscripts, for the check that each index runs over their dimension */
  private readonly intReads: { tensor: string; subs: readonly IndexExpr[]; span: Span }[] = [];

  run(): Statement {
    // Names used as subscripts (or reduction heads) are indices unless they are sizes.
    this.collectIndexNames(this.line.rhs);
    this.lhs.forEach((n) => this.indexNames.add(n));
    // a scatter's left subscripts: T's dimensions give its plain indices' ranges, as a read of T would
    const at = this.scatter ? this.line.subs!.map((s) => this.dataSubscript(s, this.index(s, new Map()))) : undefined;
    if (at) this.use({ tensor: this.name, subs: at, span: this.line.span });
    let rhs = this.expr(this.line.rhs, new Map(), new Map());
    rhs = this.wrapEinsteinSums(rhs);
    const extents = inferRanges(this);
    for (const m of this.matrices) this.squareOrFail(m.fn, extents.get(m.names[0])!, extents.get(m.names[1])!, m.span);
    rhs = wholeMatrices(fillExtents(rhs, extents), this.c.shapes);
    const lhs: Bound[] = this.lhs.map((n) => ({ name: n, extent: extents.get(n)! }));
    this.readsInRange(extents);
    if (at) return { tensor: this.name, lhs, rhs, line: this.line.span.line, span: this.line.span, scatter: { at } };
    if (!this.c.declared.has(this.name)) this.c.shapes.set(this.name, lhs.map((b) => b.extent));
    return { tensor: this.name, lhs, rhs, line: this.line.span.line, span: this.line.span };
  }

  /** tok[n] reads tok in range: n runs over tok's dimension exactly (no padding of integer data). */
  private readsInRange(extents: ReadonlyMap<string, SizeExpr>) {
    for (const r of this.intReads)
      r.subs.forEach((s, d) => {
        const n = idxAsVar(s)!;
        const dim = this.c.shapes.get(r.tensor)![d]!;
        if (!sizeEquals(extents.get(n)!, dim))
          fail('shape-mismatch', `index ${n} runs over ${printSize(extents.get(n)!)} but reads ${r.tensor}, whose dimension ${d + 1} is ${printSize(dim)}`, r.span, `an integer tensor is read in range: make the two the same size`);
      });
  }

  /** A subscript of a tensor that reads integer data is `tok[n] + c` (one element, plus sizes and
   *  whole numbers): its range is checked once per element of tok, before anything is computed. */
  private dataSubscript(a: Ast, ix: IndexExpr): IndexExpr {
    const reads = ix.terms.filter((t) => t.atom.kind === 'read');
    if (reads.length === 0) return ix;
    if (ix.terms.length !== 1 || polyConstValue(ix.terms[0]!.coef) !== 1)
      fail('non-affine', 'a data-dependent subscript is one element of an integer tensor plus sizes and whole numbers', a.span, 'write E[tok[n], d] or E[tok[n]+1, d]; compare an index with it instead: (tok[n] == v)');
    return ix;
  }

  private collectIndexNames(a: Ast) {
    const inSub = (x: Ast) => {
      if (x.k === 'name' && !this.c.sizes.has(x.name) && !this.c.consts.has(x.name)) this.indexNames.add(x.name);
      forEachChild(x, inSub);
    };
    const walk = (x: Ast) => {
      if (x.k === 'access') x.subs.forEach(inSub);
      if (x.k === 'reduce') {
        x.heads.forEach((h) => this.indexNames.add(h.name));
        x.at?.forEach(inSub);
      }
      forEachChild(x, walk);
    };
    walk(a);
  }

  private fresh(base: string): string {
    let k = 2;
    let n = `${base}${k}`;
    while (this.indexNames.has(n) || this.boundNames.has(n) || this.c.sizes.has(n) || this.c.isTensorName(n)) n = `${base}${++k}`;
    return n;
  }

  /** Subscript → affine index expression, or a located non-affine error; its numbers are exact
   *  integers (X[i*1e300*1e300] made a coefficient of ∞, and the gradient read dY[(NaN*i+n)/Infinity]). */
  private index(a: Ast, scope: ReadonlyMap<string, string>): IndexExpr {
    const ix = this.indexRaw(a, scope);
    if (!exactIndex(ix))
      fail('non-affine', 'a number in this subscript is too large to be exact', a.span, `subscripts are integers of at most 9,007,199,254,740,991 in size`);
    return ix;
  }

  private indexRaw(a: Ast, scope: ReadonlyMap<string, string>): IndexExpr {
    const nonAffine = (why: string): never =>
      fail('non-affine', why, a.span, 'subscripts are affine: integer combinations of indices plus sizes and whole numbers, e.g. X[u*T+i-P]');
    switch (a.k) {
      case 'num':
        if (!Number.isInteger(a.value)) nonAffine(`subscript ${a.value} is not a whole number`);
        return idxNum(a.value);
      case 'name': {
        if (this.c.sizes.has(a.name)) return idxSizeName(a.name);
        if (this.c.ints.has(a.name)) return this.intRead(a, []);
        if (this.c.consts.has(a.name) && !scope.has(a.name)) nonAffine(`${a.name} is a constant (a real number), not an index or a size`);
        const n = scope.get(a.name) ?? a.name;
        this.note(n, a.span);
        return idxVar(n);
      }
      case 'unary':
        return idxNeg(this.indexRaw(a.arg, scope));
      case 'binary': {
        const x = this.indexRaw(a.a, scope);
        const y = this.indexRaw(a.b, scope);
        if (a.op === '+') return idxAdd(x, y);
        if (a.op === '-') return idxSub(x, y);
        if (a.op === '*') {
          const cy = idxAsConst(y);
          const cx = idxAsConst(x);
          if (cy) return idxScale(x, cy);
          if (cx) return idxScale(y, cx);
          return nonAffine(`a product of two indices is not affine`);
        }
        if (a.op === '/' || a.op === '%') {
          const cy = idxAsConst(y);
          if (!cy || !polyIsPositive(cy)) return nonAffine(`\`${a.op}\` in a subscript needs a positive size or whole number on its right`);
          return a.op === '/' ? idxDiv(x, cy!) : idxMod(x, cy!);
        }
        return nonAffine(`\`${a.op}\` is not allowed in a subscript`);
      }
      case 'access':
        if (this.c.ints.has(a.name)) return this.intRead(a, a.subs, scope);
        if (this.c.isTensorName(a.name))
          return fail('bad-name', `${a.name} holds real numbers: a subscript reads only an integer tensor`, a.span, `declare it \`${a.name}: int[…]\` if it holds indices (tokens, labels)`);
        return nonAffine(`a subscript cannot read the tensor ${a.name}`);
      case 'call':
        return nonAffine(`a subscript cannot call ${a.name}(…)`);
      default:
        return nonAffine('this is not an affine index expression');
    }
  }

  /** tok[n]: an element of an integer tensor, its subscripts distinct plain indices. */
  private intRead(a: Extract<Ast, { k: 'name' | 'access' }>, subs: readonly Ast[], scope: ReadonlyMap<string, string> = new Map()): IndexExpr {
    const shape = this.c.shapes.get(a.name)!;
    if (shape.length !== subs.length)
      fail('rank-mismatch', `${a.name} has ${shape.length} dimension${shape.length === 1 ? '' : 's'} but is indexed with ${subs.length}`, a.span, `write ${a.name} with ${shape.length} subscript${shape.length === 1 ? '' : 's'}`);
    // distinct plain indices: the data check then covers exactly the elements read
    const seen: string[] = [];
    const ix = subs.map((s) => {
      // in the scope of the reductions around it: a second sum(n) is n2 here too (tok[n2], not tok[n])
      const x = this.indexRaw(s, scope);
      const n = idxAsVar(x);
      if (n === undefined) fail('non-affine', `${a.name} is integer data: its subscripts are plain indices`, s.span, `write ${a.name}[n]; shift what it indexes instead: E[${a.name}[n]+1, d]`);
      if (seen.includes(n!)) fail('non-affine', `${a.name} is integer data: its subscripts are distinct indices, and ${n} repeats`, s.span, 'read the whole of it, e.g. tok[b,t]');
      seen.push(n!);
      return x;
    });
    this.c.noteRead(a.name, a.span, this.name);
    this.use({ tensor: a.name, subs: ix, span: a.span });
    this.intReads.push({ tensor: a.name, subs: ix, span: a.span });
    return idxRead(a.name, ix);
  }

  private use(u: Use) {
    this.uses.push(u);
    const same = this.usesOf.get(u.tensor);
    if (same) same.push(u);
    else this.usesOf.set(u.tensor, [u]);
  }

  private note(indexName: string, span: Span) {
    if (!this.firstSpan.has(indexName)) this.firstSpan.set(indexName, span);
  }

  private expr(a: Ast, scope: ReadonlyMap<string, string>, params: ReadonlyMap<string, Expr>): Expr {
    switch (a.k) {
      case 'num':
        return num(a.value);
      case 'name': {
        if (params.has(a.name)) return params.get(a.name)!;
        // integer data read as a value is an index value, like i in where(i > 0, …)
        if (this.c.ints.has(a.name) && !scope.has(a.name) && !this.defStack.length) return { kind: 'index', expr: this.intRead(a, []) };
        if (this.defStack.length && !this.c.sizes.has(a.name) && !this.c.consts.has(a.name))
          fail('bad-name', `${a.name} is not a parameter of ${this.defStack.at(-1)}`, a.span, 'a def body uses only its parameters, numbers, sizes and constants');
        if (scope.has(a.name)) return { kind: 'index', expr: idxVar(scope.get(a.name)!) };
        if (this.c.consts.has(a.name)) {
          this.c.see(a.name, a.span);
          return access(a.name, []);
        }
        if (this.c.sizes.has(a.name)) return { kind: 'sizeval', size: sizeName(a.name) };
        if (this.indexNames.has(a.name)) {
          this.note(a.name, a.span);
          return { kind: 'index', expr: idxVar(a.name) };
        }
        if (this.c.defs.has(a.name) || (BUILTINS as readonly string[]).includes(a.name)) fail('bad-name', `${a.name} is a function; call it: ${a.name}(…)`, a.span);
        // `N` next to an index `n` whose range is not declared: the implicit size of n (as in `/ N`);
        // never a tensor of the program, read here or assigned anywhere (`L = sum(l) X[l] / L` reads itself)
        if (!this.c.isProgramName(a.name) && a.name !== this.name && [...this.indexNames].some((n) => n.toUpperCase() === a.name && n !== a.name)) {
          this.c.ensureSizePublic(a.name);
          return { kind: 'sizeval', size: sizeName(a.name) };
        }
        const shape = this.c.shapes.get(a.name);
        if (shape && shape.length > 0)
          fail('rank-mismatch', `${a.name} has ${shape.length} dimension${shape.length === 1 ? '' : 's'} but is used without subscripts`, a.span, `write ${a.name}[${shape.map((_, i) => 'ijkl'[i] ?? `i${i}`).join(',')}]`);
        if (!shape && !this.c.declared.has(a.name)) this.c.shapes.set(a.name, []);
        this.c.noteRead(a.name, a.span, this.name);
        this.use({ tensor: a.name, subs: [], span: a.span });
        return access(a.name, []);
      }
      case 'access': {
        if (this.defStack.length) fail('bad-name', `a def body is scalar and cannot read the tensor ${a.name}`, a.span, 'pass the element as an argument: f(X[i])');
        if (this.c.sizes.has(a.name)) fail('bad-name', `${a.name} is a size, not a tensor`, a.span);
        if (this.c.consts.has(a.name)) fail('bad-name', `${a.name} is a constant, not a tensor`, a.span, `read it without subscripts: ${a.name}`);
        if (this.c.defs.has(a.name) || (BUILTINS as readonly string[]).includes(a.name)) fail('bad-name', `${a.name} is a function; call it with ( )`, a.span);
        if (this.c.ints.has(a.name)) return { kind: 'index', expr: this.intRead(a, a.subs, scope) };
        const subs = a.subs.map((s) => this.dataSubscript(s, this.index(s, scope)));
        const shape = this.c.shapes.get(a.name);
        if (shape && shape.length !== subs.length)
          fail('rank-mismatch', `${a.name} has ${shape.length} dimension${shape.length === 1 ? '' : 's'} but is indexed with ${subs.length}`, a.span, `write ${a.name} with ${shape.length} subscript${shape.length === 1 ? '' : 's'}`);
        const prior = this.usesOf.get(a.name)?.[0];
        if (!shape && prior && prior.subs.length !== subs.length)
          fail('rank-mismatch', `${a.name} is indexed with ${prior.subs.length} subscripts at ${prior.span.line}:${prior.span.col} but with ${subs.length} here`, a.span);
        this.c.noteRead(a.name, a.span, this.name);
        this.use({ tensor: a.name, subs, span: a.span });
        return access(a.name, subs);
      }
      case 'unary':
        return neg(this.expr(a.arg, scope, params));
      case 'binary': {
        if (a.op === '%') {
          return { kind: 'index', expr: this.index(a, scope) };
        }
        const x = this.expr(a.a, scope, params);
        const y = this.expr(a.b, scope, params);
        switch (a.op) {
          case '+':
            return add([x, y]);
          case '-':
            return add([x, neg(y)]);
          // the elementwise operators of matrix notation, on scalars
          case '*':
          case '.*':
            return mul([x, y]);
          case '/':
          case './':
            return div(x, y);
          case '^':
          case '.^':
            return pow(x, y);
        }
        return fail('syntax', `unexpected operator ${a.op}`, a.span);
      }
      case 'transpose':
        return fail(
          'syntax',
          "`'` transposes a whole vector or matrix, in a statement whose left side has no subscripts",
          a.span,
          this.defStack.length ? 'a def body is scalar' : 'write Y = A\' (matrix notation), or swap the subscripts: Y[i,j] = A[j,i]',
        );
      case 'compare':
        return compare(a.op, this.expr(a.a, scope, params), this.expr(a.b, scope, params));
      case 'call':
        return this.call(a, scope, params);
      case 'reduce':
        return this.reduction(a, scope, params);
      default: {
        const never: never = a;
        return never;
      }
    }
  }

  private call(a: Extract<Ast, { k: 'call' }>, scope: ReadonlyMap<string, string>, params: ReadonlyMap<string, Expr>): Expr {
    if ((MATRIX_BINDERS as readonly string[]).includes(a.name) && !this.c.defs.has(a.name)) return this.wholeMatrixFunction(a, scope);
    if (a.subs) fail('syntax', `${a.name}(…)[…]: only inv(A)[i,j] reads an element of a function's value`, a.span, 'read an element of a tensor: A[i,j]');
    if (MATRIX_ONLY.includes(a.name) && !this.c.defs.has(a.name))
      fail('syntax', `${a.name}(…) is matrix notation: it takes whole vectors and matrices`, a.span, `assign it to a name without subscripts, e.g. \`f = ${a.name}(A)\`, or write the sum out in index form`);
    const args = a.args.map((x) => this.expr(x, scope, params));
    const def = this.c.defs.get(a.name);
    if (def) {
      if (this.defStack.includes(a.name)) fail('recursive-def', `${a.name} calls itself`, a.span, 'def functions are inlined, so they cannot be recursive');
      if (this.defStack.length >= MAX_INLINE_DEPTH)
        fail('recursive-def', `${a.name} is called through ${MAX_INLINE_DEPTH} other functions`, a.span, `def functions are inlined; at most ${MAX_INLINE_DEPTH} calls deep`);
      if (def.params.length !== args.length)
        fail('arity', `${a.name} takes ${def.params.length} argument${def.params.length === 1 ? '' : 's'}, found ${args.length}`, a.span, `see its definition in line ${def.span.line}`);
      this.defStack.push(a.name);
      try {
        return this.expr(def.body, new Map(), new Map(def.params.map((p, i) => [p, args[i]!])));
      } finally {
        this.defStack.pop();
      }
    }
    if (!(BUILTINS as readonly string[]).includes(a.name)) {
      const candidates = [...BUILTINS, ...this.c.defs.keys()];
      const near = suggest(a.name, candidates);
      return fail('unknown-function', `${a.name} is not a built-in or def function`, a.span, `${near ? `did you mean ${near}? ` : ''}known functions: ${candidates.join(' ')}; define your own with \`def ${a.name}(x) = …\``);
    }
    const fn = a.name as Builtin;
    const [lo, hi] = ARITY[fn];
    if (args.length < lo || args.length > hi) {
      const extra = fn === 'max' || fn === 'min' ? `; as a reduction write ${fn}(i) X[i]` : '';
      fail('arity', `${fn} takes ${lo === hi ? lo : `${lo} or ${hi}`} argument${hi === 1 ? '' : 's'}, found ${args.length}`, a.span, `e.g. ${fn}(${['x', 'y', 'z'].slice(0, lo).join(', ')})${extra}`);
    }
    if (fn === 'elu' && args.length === 1) args.push(num(1));
    return call(fn, args);
  }

  /** det(A), logdet(A), inv(A)[i,j] of a whole tensor A (a square matrix). */
  private wholeMatrixFunction(a: Extract<Ast, { k: 'call' }>, scope: ReadonlyMap<string, string>): Expr {
    const fn = a.name as MatrixFn;
    if (this.defStack.length) fail('bad-name', `a def body is scalar and cannot use ${fn}(…)`, a.span);
    const arg = a.args[0];
    if (a.args.length !== 1 || arg?.k !== 'name')
      fail('arity', `${fn}(…) takes one matrix, a tensor's name`, a.span, `write ${fn}(A), or ${fn}(p:N, q:N${fn === 'inv' ? ' @ i, j' : ''}) M[p,q] for a matrix of your own`);
    const name = (arg as { name: string }).name;
    const shape = this.c.shapes.get(name);
    if (!shape || shape.length !== 2)
      fail('rank-mismatch', `${fn}(${name}) needs a square matrix, but ${name} ${shape ? `has ${shape.length} dimension${shape.length === 1 ? '' : 's'}` : 'is not a declared tensor'}`, arg!.span, `declare it, e.g. \`${name}: [N, N]\``);
    if (fn === 'inv' ? a.subs?.length !== 2 : a.subs !== undefined)
      fail('syntax', fn === 'inv' ? `inv(${name}) is a matrix: read an element, inv(${name})[i,j]` : `${fn}(${name}) is a number, not a matrix`, a.span);
    this.squareOrFail(fn, shape![0]!, shape![1]!, a.span);
    const [p, q] = [this.fresh('p'), this.fresh('q')];
    this.boundNames.add(p).add(q);
    this.indexNames.add(p).add(q);
    this.c.noteRead(name, arg!.span, this.name);
    const subs = [idxVar(p), idxVar(q)];
    this.use({ tensor: name, subs, span: arg!.span });
    const at = (a.subs ?? []).map((x) => this.index(x, scope));
    if (at.length) this.matrixReads.push({ subs: at, extent: shape![0]!, what: `inv(${name})`, span: a.span });
    return { kind: 'matfn', fn, indices: [{ name: p, extent: shape![0]! }, { name: q, extent: shape![1]! }], at, body: access(name, subs), of: name };
  }

  /** A matrix function's two extents must be one size. */
  private squareOrFail(fn: string, rows: SizeExpr, cols: SizeExpr, span: Span) {
    if (sizeEquals(rows, cols)) return;
    const d = this.c.defaultsMap();
    const [r, c] = [sizeTryEval(rows, d), sizeTryEval(cols, d)];
    if (r !== undefined && r === c) return;
    fail('shape-mismatch', `${fn} needs a square matrix, found ${printSize(rows)}×${printSize(cols)}`, span, 'a determinant and an inverse are of square matrices only');
  }

  private reduction(a: Extract<Ast, { k: 'reduce' }>, scope: ReadonlyMap<string, string>, params: ReadonlyMap<string, Expr>): Expr {
    if (this.defStack.length) fail('bad-name', `a def body is scalar and cannot use ${a.op}(…)`, a.span);
    const inner = new Map(scope);
    const bounds: Bound[] = [];
    for (const h of a.heads) {
      if (this.c.sizes.has(h.name)) fail('bad-name', `${h.name} is a size, not an index`, h.span, 'reduce over a lowercase index name');
      if (this.c.consts.has(h.name)) fail('bad-name', `${h.name} is a constant, not an index`, h.span, 'reduce over another index name');
      // Bound names are unique within a statement so later passes never see shadowing.
      const taken = this.boundNames.has(h.name) || this.lhs.includes(h.name) || scope.has(h.name) || this.freeElsewhere(h.name, a);
      const irName = taken ? this.fresh(h.name) : h.name;
      this.boundNames.add(irName);
      this.indexNames.add(irName);
      inner.set(h.name, irName);
      this.note(irName, h.span);
      if (h.range) {
        const r = this.rangeSize(h.range);
        this.boundRanges.set(irName, r);
      }
      bounds.push({ name: irName, extent: UNKNOWN });
    }
    const body = this.expr(a.body, inner, params);
    if (a.op === 'argmax' || a.op === 'argmin') {
      const at = a.at ?? fail('syntax', `${a.op}(…) needs the position it tests: ${a.op}(i, j @ p, q) X[…]`, a.span);
      if (at.length !== bounds.length) fail('syntax', `${a.op} lists ${bounds.length} indices but ${at.length} positions after @`, a.span);
      return { kind: 'argmax', op: a.op === 'argmax' ? 'max' : 'min', indices: bounds, at: at.map((x) => this.index(x, scope)), body };
    }
    if ((MATRIX_BINDERS as readonly string[]).includes(a.op)) {
      const fn = a.op as MatrixFn;
      if (bounds.length !== 2) fail('syntax', `${fn}(…) binds two indices, the rows and columns of its matrix, found ${bounds.length}`, a.span, `write ${fn}(p:N, q:N${fn === 'inv' ? ' @ i, j' : ''}) M[p,q]`);
      const at = a.at ?? [];
      if (fn === 'inv' ? at.length !== 2 : a.at)
        fail('syntax', fn === 'inv' ? 'inv(p:N, q:N @ i, j) M[p,q] reads the element [i,j] of the inverse: give two positions after @' : `${fn}(…) is a number: it takes no position after @`, a.span);
      this.matrices.push({ fn, names: [bounds[0]!.name, bounds[1]!.name], span: a.span });
      const subs = at.map((x) => this.index(x, scope));
      const extent = this.boundRanges.get(bounds[0]!.name);
      if (subs.length && extent) this.matrixReads.push({ subs, extent, what: 'inv(…)', span: a.span });
      return { kind: 'matfn', fn, indices: bounds, at: subs, body };
    }
    if (a.at) fail('syntax', '`@` only appears in argmax(… @ …) and inv(… @ …)', a.span);
    return reduce(a.op as 'sum', bounds, body);
  }

  /** Is `name` used outside the reduction `node` in this statement (so binding it would shadow)? */
  private freeElsewhere(name: string, node: Ast): boolean {
    let found = false;
    const walk = (x: Ast, inside: boolean) => {
      if (x === node) return;
      if (x.k === 'name' && x.name === name && !inside) found = true;
      if (x.k === 'reduce' && x.heads.some((h) => h.name === name)) {
        forEachChild(x, (c) => walk(c, true));
        return;
      }
      forEachChild(x, (c) => walk(c, inside));
    };
    walk(this.line.rhs, false);
    return found;
  }

  private rangeSize(a: Ast): SizeExpr {
    const bad = () => fail('bad-size', 'a reduction range is a size or a whole number', a.span, 'write sum(r:4) … or max(i:R) …');
    const go = (x: Ast): SizeExpr => {
      if (x.k === 'num') return Number.isSafeInteger(x.value) && x.value >= 0 ? sizeConst(x.value) : bad();
      if (x.k === 'name') return this.c.sizes.has(x.name) ? sizeName(x.name) : bad();
      if (x.k === 'binary' && (x.op === '+' || x.op === '-' || x.op === '*' || x.op === '/')) {
        const l = go(x.a);
        const r = go(x.b);
        return x.op === '+' ? sizeAdd(l, r) : x.op === '-' ? sizeSub(l, r) : x.op === '*' ? sizeMul(l, r) : sizeDiv(l, r);
      }
      return bad();
    };
    return go(a);
  }

  /** Einstein convention: an index not on the left is summed over the smallest additive term that holds all its uses. */
  private wrapEinsteinSums(rhs: Expr): Expr {
    const total = countFree(rhs);
    for (const n of this.lhs) total.delete(n);
    if (total.size === 0) return rhs; // nothing to sum (y = X[0]*1 + … + X[9999]*7): rhs is built folded already
    const done = new Set<string>();
    const order = [...total.keys()];
    const boundary = (e: Expr): Expr => {
      const inner = visit(e);
      const counts = countFree(inner);
      const names = order.filter((n) => !done.has(n) && counts.get(n) === total.get(n));
      names.forEach((n) => done.add(n));
      return names.length ? reduce('sum', names.map((n) => ({ name: n, extent: UNKNOWN })), inner) : inner;
    };
    const visit = (e: Expr): Expr => {
      switch (e.kind) {
        case 'add':
          return add(e.terms.map(boundary));
        case 'call':
          return call(e.fn, e.args.map(boundary));
        case 'compare':
          return compare(e.op, boundary(e.a), boundary(e.b));
        case 'reduce':
          return { ...e, body: boundary(e.body) };
        case 'argmax':
        case 'matfn':
          return { ...e, body: boundary(e.body) };
        default:
          return mapChildren(e, visit);
      }
    };
    const out = boundary(rhs);
    for (const n of order) this.boundNames.add(n);
    return out;
  }
}

/** Every coefficient and constant of an index expression a safe integer. */
function exactIndex(ix: IndexExpr): boolean {
  const exact = (p: Poly) => [...p.values()].every(Number.isSafeInteger);
  return exact(ix.constant) && ix.terms.every((t) => exact(t.coef) && (t.atom.kind === 'var' || (t.atom.kind === 'read' ? t.atom.subs.every(exactIndex) : exact(t.atom.by) && exactIndex(t.atom.of))));
}

function forEachChild(a: Ast, f: (c: Ast) => void) {
  switch (a.k) {
    case 'num':
    case 'name':
      return;
    case 'access':
      a.subs.forEach(f);
      return;
    case 'unary':
    case 'transpose':
      f(a.arg);
      return;
    case 'binary':
    case 'compare':
      f(a.a);
      f(a.b);
      return;
    case 'call':
      a.args.forEach(f);
      return;
    case 'reduce':
      a.heads.forEach((h) => h.range && f(h.range));
      a.at?.forEach(f);
      f(a.body);
      return;
    default: {
      const never: never = a;
      return never;
    }
  }
}

/** Occurrence counts of free index names. */
function countFree(e: Expr): Map<string, number> {
  const counts = new Map<string, number>();
  const bump = (ix: IndexExpr, bound: ReadonlySet<string>) => {
    for (const t of ix.terms) {
      if (t.atom.kind === 'var') {
        if (!bound.has(t.atom.name)) counts.set(t.atom.name, (counts.get(t.atom.name) ?? 0) + 1);
      } else for (const x of atomArgs(t.atom)) bump(x, bound);
    }
  };
  const walk = (x: Expr, bound: ReadonlySet<string>) => {
    switch (x.kind) {
      case 'index':
        bump(x.expr, bound);
        return;
      case 'access':
        x.subs.forEach((s) => bump(s, bound));
        return;
      case 'reduce':
        walk(x.body, new Set([...bound, ...x.indices.map((b) => b.name)]));
        return;
      case 'argmax':
      case 'matfn':
        x.at.forEach((s) => bump(s, bound));
        walk(x.body, new Set([...bound, ...x.indices.map((b) => b.name)]));
        return;
      default:
        for (const c of childExprs(x)) walk(c, bound);
    }
  };
  walk(e, new Set());
  return counts;
}

function childExprs(x: Expr): Expr[] {
  const out: Expr[] = [];
  mapChildren(x, (c) => {
    out.push(c);
    return c;
  });
  return out;
}

/** A matrix function of all of a tensor, det(p:N, q:N) A[p,q] with A: [N, N], knows it: it prints det(A). */
function wholeMatrices(e: Expr, shapes: ReadonlyMap<string, readonly SizeExpr[]>): Expr {
  if (e.kind === 'matfn' && !e.of && e.body.kind === 'access') {
    const b = e.body;
    const shape = shapes.get(b.tensor);
    const whole =
      shape?.length === 2 && b.subs.length === 2 && b.subs.every((s, k) => idxAsVar(s) === e.indices[k]!.name && sizeEquals(shape[k]!, e.indices[k]!.extent)) && e.indices[0]!.name !== e.indices[1]!.name;
    if (whole) return { ...e, of: b.tensor };
  }
  return mapChildren(e, (c) => wholeMatrices(c, shapes));
}

function fillExtents(e: Expr, ext: ReadonlyMap<string, SizeExpr>): Expr {
  const fill = (b: Bound): Bound => ({ name: b.name, extent: b.extent === UNKNOWN ? ext.get(b.name)! : b.extent });
  switch (e.kind) {
    case 'reduce':
      return { ...e, indices: e.indices.map(fill), body: fillExtents(e.body, ext) };
    case 'argmax':
    case 'matfn':
      return { ...e, indices: e.indices.map(fill), body: fillExtents(e.body, ext) };
    default:
      return mapChildren(e, (c) => fillExtents(c, ext));
  }
}

/** Parse and check a program; throws DeltagradError with a location on bad input, and on a program
 *  past the limits (limits.ts; each can be raised here). A byte-order mark at the start (editors on
 *  Windows save one) is not part of the program: columns count after it. */
