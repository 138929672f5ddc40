// check: surface syntax → IR. Resolves names (sizes, tensors, scalars, indices), inlines `def`
// functions, makes Einstein sums explicit, infers every index range and tensor shape, and rejects
// bad programs with a located error.
//
// Worked example:
//   dims N, D, F
//   X: [N, D]
//   W: [F, D]
//   Y[n,f] = relu(X[n,d]*W[f,d] + b[f])
// gives: d summed over the product that holds all its uses (inside relu), ranges n:N f:F d:D,
// b an undeclared input whose shape [F] comes from its plain subscript f, Y an output of shape [N, F]:
//   Y[n,f] = relu(sum(d) X[n,d]*W[f,d] + b[f])
import { idxAdd, idxAsConst, idxAsVar, idxCoef, idxDiv, idxMod, idxNeg, idxScale, idxSizeName, idxSub, idxVar, idxVars, idxNum } from './affine.js';
import { count, DeltagradError, fail, LINE_BREAK, type Span } from './errors.js';
import { InlinedSizes } from './inlinedSize.js';
import { suggest } from './suggest.js';
import { limitsWith, type Limits } from './limits.js';
import { access, add, call, compare, div, mapChildren, mul, neg, num, pow, reduce } from './exprs.js';
import { parse, type Ast, type Line } from './parse.js';
import {
  POLY_ZERO,
  polyAdd,
  polyConstValue,
  polyIsPositive,
  polyScale,
  polySub,
  sizeAdd,
  sizeConst,
  sizeDiv,
  sizeEquals,
  sizeMul,
  sizeName,
  sizePoly,
  sizeSub,
  sizeTryEval,
  printSize,
  SizeArithmeticError,
} from './sizes.js';
import { BUILTINS, type Bound, type Builtin, type Expr, type IndexExpr, type Poly, type Program, type SizeExpr, type SizeInfo, type Statement, type TensorInfo } from './types.js';

const ARITY: Record<Builtin, readonly [number, number]> = {
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
};

interface Def {
  readonly params: readonly string[];
  readonly body: Ast;
  readonly span: Span;
}

interface Use {
  readonly tensor: string;
  readonly subs: readonly IndexExpr[];
  readonly span: Span;
}

/** def functions inlined inside one another at most this deep (a chain of 10 000 would overflow the stack). */
const MAX_INLINE_DEPTH = 200;

/** Placeholder extent of a bound index until ranges are inferred. */
const UNKNOWN: SizeExpr = sizeConst(-1);

class Checker {
  readonly sizes = new Map<string, SizeInfo>();
  readonly defs = new Map<string, Def>();
  readonly declared = new Map<string, { shape: SizeExpr[]; span: Span }>();
  /** shapes known so far: declared, inferred from plain subscripts, or of assigned tensors */
  readonly shapes = new Map<string, SizeExpr[]>();
  readonly assigned = new Map<string, number>();
  readonly firstRead = new Map<string, Span>();
  readonly readAfter = new Set<string>();
  readonly order: string[] = [];
  private readonly seen = new Set<string>();
  readonly spans = new Map<string, Span>();
  readonly statements: Statement[] = [];

  /** expression nodes of the statements so far, inlined (against limits.maxNodes) */
  private nodes = 0;
  private inlined: InlinedSizes | undefined;

  constructor(
    private readonly source: string,
    readonly limits: Required<Limits>,
  ) {}

  private defaults(): Map<string, number> {
    const m = new Map<string, number>();
    for (const s of this.sizes.values()) if (s.default !== undefined) m.set(s.name, s.default);
    return m;
  }

  see(name: string, span?: Span) {
    if (!this.seen.has(name)) {
      this.seen.add(name);
      this.order.push(name);
    }
    if (span && !this.spans.has(name)) this.spans.set(name, span);
  }

  private ensureSize(name: string) {
    if (!this.sizes.has(name)) this.sizes.set(name, { name, implicit: true });
  }

  run(): Program {
    this.checkLength();
    const lines = parse(this.source, this.limits.maxNesting);
    for (const l of lines) if (l.k === 'dims') this.dims(l);
    for (const l of lines) if (l.k === 'def') this.def(l);
    this.inlined = new InlinedSizes(this.defs);
    for (const l of lines) if (l.k === 'decl') this.decl(l);
    for (const l of lines) if (l.k === 'assign') this.assign(l);
    const tensors: TensorInfo[] = this.order.map((name) => ({
      name,
      shape: this.shapes.get(name) ?? [],
      role: !this.assigned.has(name) ? 'input' : this.readAfter.has(name) ? 'intermediate' : 'output',
      declared: this.declared.has(name),
      ...(this.spans.has(name) ? { span: this.spans.get(name)! } : {}),
    }));
    return { sizes: [...this.sizes.values()], tensors, statements: this.statements, source: this.source };
  }

  /** A program longer than limits.maxSourceLength is refused before it is read, at the first character past the limit. */
  private checkLength() {
    const max = this.limits.maxSourceLength;
    if (this.source.length <= max) return;
    const before = this.source.slice(0, max);
    const lines = before.split(LINE_BREAK);
    const line = lines.length;
    const col = [...lines[line - 1]!].length + 1;
    fail('too-large', `the program is longer than ${count(max)} characters, the limit`, { line, col, length: 1 }, 'split it into smaller programs');
  }

  /** Refuse a statement whose right side, once its def calls are inlined, would not fit: before
   *  building any of it (limits.maxNodes for the whole program, limits.maxDepth for one expression). */
  private checkInlinedSize(l: Extract<Line, { k: 'assign' }>) {
    const m = this.inlined!.statement(l.rhs);
    const { maxNodes, maxDepth } = this.limits;
    const left = maxNodes - this.nodes;
    const name = (c: { call: { name: string } }) => `${c.call.name}(…)`;
    if (m.size > left) {
      const before = this.nodes ? ` (the statements before it have ${count(this.nodes)})` : '';
      const copies = 'each call copies its argument once for every use of the parameter: compute a value that is used again as a tensor of its own (`t = …`, then pass t), since a tensor is computed once';
      const culprit = m.calls.find((c) => c.size > left);
      if (culprit)
        fail('too-large', `${name(culprit)} would inline to ${count(culprit.size)} nodes; a program may have ${count(maxNodes)}${before}`, culprit.call.span, copies);
      // no call is too large alone: point at the largest, if any
      const largest = [...m.calls].sort((a, b) => b.size - a.size)[0];
      fail('too-large', `the right side of ${l.name} ${largest ? 'would inline to' : 'has'} ${count(m.size)} nodes; a program may have ${count(maxNodes)}${before}`, largest?.call.span ?? l.span, largest ? copies : 'split the program');
    }
    if (m.depth > maxDepth) {
      const culprit = m.calls.find((c) => c.depth > maxDepth);
      const split = 'split it with intermediate tensors (`t = …`): a tensor is one level deep where it is read';
      if (culprit) fail('too-large', `${name(culprit)} would inline to an expression nested ${count(culprit.depth)} levels deep; the limit is ${count(maxDepth)}`, culprit.call.span, split);
      fail('too-large', `the right side of ${l.name} is nested ${count(m.depth)} levels deep; the limit is ${count(maxDepth)}`, l.span, split);
    }
    this.nodes += m.size;
  }

  private dims(l: Extract<Line, { k: 'dims' }>) {
    for (const it of l.items) {
      if (this.sizes.has(it.name)) fail('bad-name', `size ${it.name} is declared twice`, it.span, 'declare each size once in `dims`');
      this.sizes.set(it.name, { name: it.name, ...(it.value !== undefined ? { default: it.value } : {}), implicit: false });
    }
  }

  private def(l: Extract<Line, { k: 'def' }>) {
    if ((BUILTINS as readonly string[]).includes(l.name)) fail('bad-name', `def ${l.name} would hide the built-in function ${l.name}`, l.span, 'choose another name');
    if (this.defs.has(l.name)) fail('bad-name', `function ${l.name} is defined twice`, l.span);
    if (this.sizes.has(l.name)) fail('bad-name', `${l.name} is a size, it cannot also be a function`, l.span);
    this.defs.set(l.name, { params: l.params.map((p) => p.name), body: l.body, span: l.span });
  }

  private decl(l: Extract<Line, { k: 'decl' }>) {
    if (this.sizes.has(l.name)) fail('bad-name', `${l.name} is a size, it cannot also be a tensor`, l.span, 'use another name for the tensor');
    if (this.declared.has(l.name)) fail('bad-name', `tensor ${l.name} is declared twice`, l.span);
    const shape = l.shape.map((a) => this.sizeOf(a));
    this.declared.set(l.name, { shape, span: l.span });
    this.shapes.set(l.name, shape);
    this.see(l.name, l.span);
  }

  /** A shape expression: sizes, whole numbers, + - * and floor division. */
  private sizeOf(a: Ast): SizeExpr {
    switch (a.k) {
      case 'num':
        if (!Number.isSafeInteger(a.value) || a.value < 0) fail('bad-size', `a dimension must be a whole number of at most 9,007,199,254,740,991, found ${a.value}`, a.span);
        return sizeConst(a.value);
      case 'name':
        if (this.declared.has(a.name) || this.defs.has(a.name)) fail('bad-name', `${a.name} is not a size`, a.span, 'shapes are made of size names (see `dims`) and whole numbers');
        this.ensureSize(a.name);
        return sizeName(a.name);
      case 'unary':
        return sizeSub(sizeConst(0), this.sizeOf(a.arg));
      case 'binary': {
        const x = this.sizeOf(a.a);
        const y = this.sizeOf(a.b);
        try {
          if (a.op === '+') return sizeAdd(x, y);
          if (a.op === '-') return sizeSub(x, y);
          if (a.op === '*') return sizeMul(x, y);
          if (a.op === '/') return sizeDiv(x, y);
        } catch (e) {
          if (e instanceof SizeArithmeticError) fail('bad-size', e.message, a.span);
          throw e;
        }
        return fail('bad-size', `\`${a.op}\` is not allowed in a shape`, a.span, 'shapes use + - * and / (floor division)');
      }
      default:
        return fail('bad-size', 'a shape is made of size names, whole numbers, + - * and /', a.span);
    }
  }

  private assign(l: Extract<Line, { k: 'assign' }>) {
    const name = l.name;
    if (this.sizes.has(name)) fail('bad-name', `${name} is a size and cannot be assigned`, l.span);
    if (this.defs.has(name) || (BUILTINS as readonly string[]).includes(name)) fail('bad-name', `${name} is a function and cannot be assigned`, l.span);
    if (this.assigned.has(name))
      fail('assigned-twice', `${name} is already assigned in line ${this.assigned.get(name)}`, l.span, `each tensor is assigned once; give this one another name, or add both right sides in one statement`);
    if (this.firstRead.has(name)) {
      const r = this.firstRead.get(name)!;
      fail('used-before-assigned', `${name} is read in line ${r.line} before it is assigned in line ${l.span.line}`, r, 'statements run top to bottom: assign a tensor before reading it');
    }
    // Left side: distinct plain index names.
    const lhsNames: string[] = [];
    for (const s of l.subs ?? []) {
      if (s.k !== 'name') fail('bad-left-side', `the left side of ${name} takes index names, found an expression`, s.span, 'move index arithmetic to the right side, e.g. `Y[u] = X[2*u]`');
      const n = (s as { name: string }).name;
      if (this.sizes.has(n)) fail('bad-left-side', `${n} is a size, not an index`, s.span, 'use a lowercase index name on the left side');
      if (lhsNames.includes(n)) fail('bad-left-side', `index ${n} appears twice on the left side of ${name}`, s.span, 'left-side indices must be distinct; read the diagonal on the right: `d[i] = A[i,i]`');
      lhsNames.push(n);
    }
    const decl = this.declared.get(name);
    if (decl && decl.shape.length !== lhsNames.length)
      fail('rank-mismatch', `${name} is declared with ${decl.shape.length} dimension${decl.shape.length === 1 ? '' : 's'} but assigned with ${lhsNames.length} subscript${lhsNames.length === 1 ? '' : 's'}`, l.span, `write ${name}${decl.shape.length ? `[${decl.shape.map((_, i) => 'ijklmn'[i] ?? `i${i}`).join(',')}]` : ''} = …`);
    this.see(name, { line: l.span.line, col: l.span.col, length: name.length });
    this.checkInlinedSize(l);
    const st = new StatementChecker(this, name, lhsNames, l);
    const stmt = st.run();
    this.assigned.set(name, l.span.line);
    this.statements.push(stmt);
  }

  // --- helpers used by StatementChecker ---
  isTensorName(n: string): boolean {
    return this.declared.has(n) || this.assigned.has(n) || this.shapes.has(n);
  }
  noteRead(tensor: string, span: Span, current: string) {
    if (tensor === current) fail('used-before-assigned', `${tensor} reads itself`, span, 'a statement cannot read the tensor it assigns; give the result another name');
    if (this.assigned.has(tensor)) this.readAfter.add(tensor);
    else if (!this.firstRead.has(tensor)) this.firstRead.set(tensor, span);
    this.see(tensor, { line: span.line, col: span.col, length: tensor.length });
  }
  defaultsMap() {
    return this.defaults();
  }
  ensureSizePublic(name: string) {
    this.ensureSize(name);
  }
  freshSize(preferred: string): string {
    let name = preferred;
    let k = 2;
    while (this.declared.has(name) || this.assigned.has(name) || this.defs.has(name) || this.seen.has(name)) name = `${preferred}${k++}`;
    this.ensureSize(name);
    return name;
  }
}

class StatementChecker {
  private readonly uses: Use[] = [];
  /** the same uses by tensor (a statement may read 20 000 tensors: no scan of them all per read) */
  private readonly usesOf = new Map<string, Use[]>();
  /** every index name of the statement: left side, free, and bound (after renaming) */
  private readonly indexNames = new Set<string>();
  private readonly boundNames = new Set<string>();
  private readonly boundRanges = new Map<string, SizeExpr>();
  private readonly firstSpan = new Map<string, Span>();
  private readonly defStack: string[] = [];

  constructor(
    private readonly c: Checker,
    private readonly name: string,
    private readonly lhs: string[],
    private readonly line: Extract<Line, { k: 'assign' }>,
  ) {}

  run(): Statement {
    // Names used as subscripts (or reduction heads) are indices unless they are sizes.
    this.collectIndexNames(this.line.rhs);
    this.lhs.forEach((n) => this.indexNames.add(n));
    let rhs = this.expr(this.line.rhs, new Map(), new Map());
    rhs = this.wrapEinsteinSums(rhs);
    const extents = this.inferRanges();
    rhs = fillExtents(rhs, extents);
    const lhs: Bound[] = this.lhs.map((n) => ({ name: n, extent: extents.get(n)! }));
    if (!this.c.declared.has(this.name)) this.c.shapes.set(this.name, lhs.map((b) => b.extent));
    return { tensor: this.name, lhs, rhs, line: this.line.span.line, span: this.line.span };
  }

  private collectIndexNames(a: Ast) {
    const inSub = (x: Ast) => {
      if (x.k === 'name' && !this.c.sizes.has(x.name)) this.indexNames.add(x.name);
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
        return nonAffine(`\`^\` is not allowed in a subscript`);
      }
      case 'access':
        return nonAffine(`a subscript cannot read the tensor ${a.name}`);
      case 'call':
        return nonAffine(`a subscript cannot call ${a.name}(…)`);
      default:
        return nonAffine('this is not an affine index expression');
    }
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
        if (this.defStack.length && !this.c.sizes.has(a.name)) fail('bad-name', `${a.name} is not a parameter of ${this.defStack.at(-1)}`, a.span, 'a def body uses only its parameters, numbers and sizes');
        if (scope.has(a.name)) return { kind: 'index', expr: idxVar(scope.get(a.name)!) };
        if (this.c.sizes.has(a.name)) return { kind: 'sizeval', size: sizeName(a.name) };
        if (this.indexNames.has(a.name)) {
          this.note(a.name, a.span);
          return { kind: 'index', expr: idxVar(a.name) };
        }
        if (this.c.defs.has(a.name) || (BUILTINS as readonly string[]).includes(a.name)) fail('bad-name', `${a.name} is a function; call it: ${a.name}(…)`, a.span);
        // `N` next to an index `n` whose range is not declared: the implicit size of n (as in `/ N`).
        if (!this.c.isTensorName(a.name) && [...this.indexNames].some((n) => n.toUpperCase() === a.name && n !== a.name)) {
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
        if (this.c.defs.has(a.name) || (BUILTINS as readonly string[]).includes(a.name)) fail('bad-name', `${a.name} is a function; call it with ( )`, a.span);
        const subs = a.subs.map((s) => this.index(s, scope));
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
          case '*':
            return mul([x, y]);
          case '/':
            return div(x, y);
          case '^':
            return pow(x, y);
        }
        return fail('syntax', `unexpected operator ${a.op}`, a.span);
      }
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

  private reduction(a: Extract<Ast, { k: 'reduce' }>, scope: ReadonlyMap<string, string>, params: ReadonlyMap<string, Expr>): Expr {
    if (this.defStack.length) fail('bad-name', `a def body is scalar and cannot use ${a.op}(…)`, a.span);
    const inner = new Map(scope);
    const bounds: Bound[] = [];
    for (const h of a.heads) {
      if (this.c.sizes.has(h.name)) fail('bad-name', `${h.name} is a size, not an index`, h.span, 'reduce over a lowercase index name');
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
    if (a.at) fail('syntax', '`@` only appears in argmax(… @ …)', a.span);
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
      if (x.k === 'binary' && x.op !== '^' && x.op !== '%') {
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
          return { ...e, body: boundary(e.body) };
        default:
          return mapChildren(e, visit);
      }
    };
    const out = boundary(rhs);
    for (const n of order) this.boundNames.add(n);
    return out;
  }

  /** Every index gets an extent: explicit range, declared dimension, or inference from accesses. */
  private inferRanges(): Map<string, SizeExpr> {
    const ext = new Map<string, SizeExpr>(this.boundRanges);
    const from = new Map<string, string>([...this.boundRanges.keys()].map((n) => [n, 'its range in the reduction'] as const)); // where the extent came from, for error messages
    const defaults = this.c.defaultsMap();
    const agree = (n: string, e: SizeExpr, where: string, span: Span) => {
      const prev = ext.get(n);
      if (!prev) {
        ext.set(n, e);
        from.set(n, where);
        return;
      }
      if (sizeEquals(prev, e)) return;
      const a = sizeTryEval(prev, defaults);
      const b = sizeTryEval(e, defaults);
      if (a !== undefined && a === b) return;
      fail('shape-mismatch', `index ${n} runs over ${printSize(prev)} (${from.get(n)}) but over ${printSize(e)} in ${where}`, span, `make the two dimensions the same size, or use different index names`);
    };
    const decl = this.c.declared.get(this.name);
    if (decl) this.lhs.forEach((n, i) => agree(n, decl.shape[i]!, `${this.name} dimension ${i + 1}`, this.line.span));
    const plainUses = (known: boolean, of?: string) => {
      for (const u of of === undefined ? this.uses : this.usesOf.get(of)!) {
        const shape = this.c.shapes.get(u.tensor);
        if (!shape || (shape.length === 0 && u.subs.length)) continue;
        if (!known) continue;
        u.subs.forEach((s, d) => {
          const v = idxAsVar(s);
          // a left-side index of a declared tensor runs over the declared dimension; read alone on a
          // dimension of another extent it is a zero-padded read (dW[a,…] = … Y1[a-2,a] … in a gradient)
          if (v !== undefined && decl && this.lhs.includes(v)) return;
          if (v !== undefined && shape[d]) agree(v, shape[d]!, `${u.tensor} dimension ${d + 1}`, u.span);
        });
      }
    };
    plainUses(true);
    // Undeclared tensors with plain subscripts get their shape from the index ranges (new sizes where unknown).
    for (const u of this.uses) {
      if (this.c.shapes.has(u.tensor)) continue;
      // any read of it with plain subscripts gives the shape: X[i+1] + X[i] as well as X[i] + X[i+1]
      const plain = this.usesOf.get(u.tensor)!.find((w) => w.subs.every((s) => idxAsVar(s) !== undefined));
      if (!plain)
        fail('unknown-shape', `the shape of ${u.tensor} cannot be known from its subscripts`, u.span, `declare it, e.g. \`${u.tensor}: [${u.subs.map((_, i) => 'NCHW'[i] ?? `D${i}`).join(', ')}]\``);
      const vars = plain!.subs.map(idxAsVar);
      const shape = vars.map((v) => {
        if (!ext.has(v!)) {
          const size = this.c.freshSize(v!.toUpperCase());
          ext.set(v!, sizeName(size));
          from.set(v!, `${u.tensor}, whose shape is inferred`);
        }
        return ext.get(v!)!;
      });
      this.c.shapes.set(u.tensor, shape);
      plainUses(true, u.tensor);
    }
    // Left-side indices of an undeclared output not fixed by a plain use: the largest in-bounds range.
    for (const n of this.lhs) {
      if (ext.has(n)) continue;
      const inferred = this.inferFromCompound(n, ext);
      if (!inferred)
        fail('unknown-range', `cannot infer the range of index ${n}`, this.firstSpan.get(n) ?? this.line.span, `declare ${this.name} with its shape, e.g. \`${this.name}: [${this.lhs.map((x) => x.toUpperCase()).join(', ')}]\`, or use ${n} alone as a subscript of a declared tensor`);
      ext.set(n, inferred!);
    }
    for (const n of this.boundNames) {
      if (ext.has(n)) continue;
      const inferred = this.inferFromCompound(n, ext);
      if (inferred) {
        ext.set(n, inferred);
        continue;
      }
      fail('unknown-range', `cannot infer the range of index ${n}`, this.firstSpan.get(n) ?? this.line.span, `give it a range, e.g. sum(${n}:4) …, or use ${n} alone as a subscript of a declared tensor`);
    }
    for (const n of this.indexNames) {
      if (!ext.has(n) && (this.lhs.includes(n) || this.boundNames.has(n))) continue;
      if (!ext.has(n) && this.firstSpan.has(n))
        fail('unknown-range', `index ${n} is neither on the left side nor summed`, this.firstSpan.get(n)!, `put ${n} on the left side, or sum over it`);
    }
    return ext;
  }

  /** From an access T[c*n + rest] with known dimension D: n < (D - 1 + pad - max(rest))/c + 1 (pad = -min(rest), symmetric padding). */
  private inferFromCompound(n: string, ext: ReadonlyMap<string, SizeExpr>): SizeExpr | undefined {
    const found = this.compoundCandidates(n, ext);
    if (found.length <= 1) return found[0];
    // every access must stay in bounds: the smallest candidate (comparable when they differ by a constant)
    const defaults = this.c.defaultsMap();
    let best = found[0]!;
    for (const f of found.slice(1)) {
      // the difference of two sizes with floor divisions may not be expressible: compare values then
      let d: SizeExpr | undefined;
      try {
        d = sizeSub(f, best);
      } catch {
        d = undefined;
      }
      const k = d?.kind === 'poly' ? polyConstValue(d.poly) : undefined;
      const fb = sizeTryEval(f, defaults);
      const bb = sizeTryEval(best, defaults);
      if ((k !== undefined && k < 0) || (k === undefined && fb !== undefined && bb !== undefined && fb < bb)) best = f;
    }
    return best;
  }

  private compoundCandidates(n: string, ext: ReadonlyMap<string, SizeExpr>): SizeExpr[] {
    const out: SizeExpr[] = [];
    for (const u of this.uses) {
      const shape = this.c.shapes.get(u.tensor);
      if (!shape) continue;
      for (let d = 0; d < u.subs.length; d++) {
        const s = u.subs[d]!;
        const raw = idxCoef(s, n);
        if (!raw || raw === 'nested') continue;
        // X[H-1-u]: a negative coefficient reads the dimension backwards; c·u runs down from the rest
        const flipped = polyIsPositive(polyScale(raw, -1));
        const coef = flipped ? polyScale(raw, -1) : raw;
        if (!polyIsPositive(coef)) continue;
        let lo = s.constant;
        let hi = s.constant;
        let ok = true;
        for (const t of s.terms) {
          if (t.atom.kind !== 'var') {
            ok = false;
            break;
          }
          if (t.atom.name === n) continue;
          const e = ext.get(t.atom.name);
          if (!e || e.kind !== 'poly') {
            ok = false;
            break;
          }
          const span = polyAdd(e.poly, polyScale(new Map([['', 1]]), -1)); // extent - 1
          const k = polyConstValue(t.coef);
          if (k === undefined) {
            if (!polyIsPositive(t.coef)) {
              ok = false;
              break;
            }
            hi = polyAdd(hi, mulPoly(t.coef, span));
          } else if (k > 0) hi = polyAdd(hi, polyScale(span, k));
          else lo = polyAdd(lo, polyScale(span, k));
        }
        if (!ok) continue;
        if (flipped) {
          // 0 ≤ rest − c·u: u ≤ lo/c, with lo the smallest the rest gets (reads past the far end, where
          // the rest exceeds D − 1, are zero padding as on the near end of a forward read)
          const dim = shape[d]!;
          const over = dim.kind === 'poly' ? polySub(hi, polyAdd(dim.poly, new Map([['', -1]]))) : POLY_ZERO;
          const pad = paddingOf(over);
          const top = polyAdd(lo, pad);
          const topVal = polyConstValue(top);
          if (topVal !== undefined && topVal < 0) continue;
          out.push(sizeAdd(sizeDiv(sizePoly(top), sizePoly(coef)), sizeConst(1)));
          continue;
        }
        const negLo = polyScale(lo, -1);
        const pad = paddingOf(negLo);
        const numer = sizeAdd(shape[d]!, sizePoly(polySub(polyAdd(pad, new Map([['', -1]])), hi)));
        out.push(sizeAdd(sizeDiv(numer, sizePoly(coef)), sizeConst(1)));
      }
    }
    return out;
  }
}

/** Every coefficient and constant of an index expression a safe integer. */
function exactIndex(ix: IndexExpr): boolean {
  const exact = (p: Poly) => [...p.values()].every(Number.isSafeInteger);
  return exact(ix.constant) && ix.terms.every((t) => exact(t.coef) && (t.atom.kind === 'var' || (exact(t.atom.by) && exactIndex(t.atom.of))));
}

/** How far a read reaches past the end of its dimension: p when it is positive, else nothing. */
function paddingOf(p: Poly): Poly {
  const v = polyConstValue(p);
  return (v !== undefined ? v > 0 : polyIsPositive(p)) ? p : POLY_ZERO;
}

function mulPoly(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>) {
  const s = sizeMul(sizePoly(a), sizePoly(b));
  return s.kind === 'poly' ? s.poly : POLY_ZERO;
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
      } else bump(t.atom.of, bound);
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

function fillExtents(e: Expr, ext: ReadonlyMap<string, SizeExpr>): Expr {
  const fill = (b: Bound): Bound => ({ name: b.name, extent: b.extent === UNKNOWN ? ext.get(b.name)! : b.extent });
  switch (e.kind) {
    case 'reduce':
      return { ...e, indices: e.indices.map(fill), body: fillExtents(e.body, ext) };
    case 'argmax':
      return { ...e, indices: e.indices.map(fill), body: fillExtents(e.body, ext) };
    default:
      return mapChildren(e, (c) => fillExtents(c, ext));
  }
}

/** Parse and check a program; throws DeltagradError with a location on bad input, and on a program
 *  past the limits (limits.ts; each can be raised here). A byte-order mark at the start (editors on
 *  Windows save one) is not part of the program: columns count after it. */
export function check(source: string, limits: Limits = {}): Program {
  return new Checker(source.replace(/^\uFEFF/, ''), limitsWith(limits)).run();
}

export { DeltagradError };
export const usedVars = idxVars;
