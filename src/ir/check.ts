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
import { idxVars } from './affine.js';
import { count, DeltagradError, fail, LINE_BREAK, type Span } from './errors.js';
import { expandMatrixNotation } from './expandMatrixNotation.js';
import { solveLeftSide } from './solveLeftSide.js';
import { InlinedSizes } from './inlinedSize.js';
import { limitsWith, type Limits } from './limits.js';
import { parse, type Ast, type Line } from './parse.js';
import {
  sizeAdd,
  SizeArithmeticError,
  sizeConst,
  sizeDiv,
  sizeMul,
  sizeName,
  sizeSub
} from './sizes.js';
import { BUILTINS, type Program, type SizeExpr, type SizeInfo, type Statement, type TensorInfo } from './types.js';

import { StatementChecker } from './checkStatement.js';
import type { Def, ProgramScope } from './checkTypes.js';

class Checker implements ProgramScope {
  readonly sizes = new Map<string, SizeInfo>();
  readonly defs = new Map<string, Def>();
  /** named constants (`const eps = 1e-5`): values, not inputs */
  readonly consts = new Map<string, { readonly value: number; readonly span: Span }>();
  /** every name the program assigns, declares or makes a constant, wherever it stands: an index's
   *  new size must not take one (`l` beside a scalar output `L` assigned later) */
  readonly programNames = new Set<string>();
  readonly declared = new Map<string, { shape: SizeExpr[]; span: Span }>();
  /** shapes known so far: declared, inferred from plain subscripts, or of assigned tensors */
  readonly shapes = new Map<string, SizeExpr[]>();
  readonly assigned = new Map<string, number>();
  readonly ints = new Set<string>();
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
    for (const l of lines) if (l.k === 'const') this.consts_(l);
    for (const l of lines) if (l.k === 'assign' || l.k === 'decl') this.programNames.add(l.name);
    for (const l of lines) if (l.k === 'def') this.def(l);
    this.inlined = new InlinedSizes(this.defs);
    for (const l of lines) if (l.k === 'decl') this.decl(l);
    for (const l of lines) if (l.k === 'assign') this.assign(l);
    const tensors: TensorInfo[] = this.order.map((name) => ({
      name,
      shape: this.shapes.get(name) ?? [],
      role: this.consts.has(name) ? 'constant' : !this.assigned.has(name) ? 'input' : this.readAfter.has(name) ? 'intermediate' : 'output',
      ...(this.consts.has(name) ? { value: this.consts.get(name)!.value } : {}),
      declared: this.declared.has(name),
      ...(this.ints.has(name) ? { elem: 'int' as const } : {}),
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

  private consts_(l: Extract<Line, { k: 'const' }>) {
    for (const it of l.items) {
      if (this.sizes.has(it.name)) fail('bad-name', `${it.name} is a size, it cannot also be a constant`, it.span, 'sizes are whole numbers in `dims`; give the constant another name');
      if (this.consts.has(it.name)) fail('bad-name', `constant ${it.name} is defined twice`, it.span, 'define each constant once');
      if ((BUILTINS as readonly string[]).includes(it.name)) fail('bad-name', `constant ${it.name} would hide the built-in function ${it.name}`, it.span, 'choose another name');
      this.consts.set(it.name, { value: it.value, span: it.span });
      this.programNames.add(it.name);
    }
  }

  private def(l: Extract<Line, { k: 'def' }>) {
    if ((BUILTINS as readonly string[]).includes(l.name)) fail('bad-name', `def ${l.name} would hide the built-in function ${l.name}`, l.span, 'choose another name');
    if (this.defs.has(l.name)) fail('bad-name', `function ${l.name} is defined twice`, l.span);
    if (this.sizes.has(l.name)) fail('bad-name', `${l.name} is a size, it cannot also be a function`, l.span);
    if (this.consts.has(l.name)) fail('bad-name', `${l.name} is a constant, it cannot also be a function`, l.span);
    this.defs.set(l.name, { params: l.params.map((p) => p.name), body: l.body, span: l.span });
  }

  private decl(l: Extract<Line, { k: 'decl' }>) {
    if (this.sizes.has(l.name)) fail('bad-name', `${l.name} is a size, it cannot also be a tensor`, l.span, 'use another name for the tensor');
    if (this.declared.has(l.name)) fail('bad-name', `tensor ${l.name} is declared twice`, l.span);
    if (this.consts.has(l.name)) fail('bad-name', `${l.name} is a constant, it cannot also be a tensor`, l.span, 'a constant has its value in `const`; give the tensor another name');
    const shape = l.shape.map((a) => this.sizeOf(a));
    this.declared.set(l.name, { shape, span: l.span });
    this.shapes.set(l.name, shape);
    if (l.int) this.ints.add(l.name);
    this.see(l.name, l.span);
  }

  /** A shape expression: sizes, whole numbers, + - * and floor division. */
  private sizeOf(a: Ast): SizeExpr {
    switch (a.k) {
      case 'num':
        if (!Number.isSafeInteger(a.value) || a.value < 0) fail('bad-size', `a dimension must be a whole number of at most 9,007,199,254,740,991, found ${a.value}`, a.span);
        return sizeConst(a.value);
      case 'name':
        if (this.declared.has(a.name) || this.defs.has(a.name) || this.consts.has(a.name)) fail('bad-name', `${a.name} is not a size`, a.span, 'shapes are made of size names (see `dims`) and whole numbers');
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

  private assign(written: Extract<Line, { k: 'assign' }>) {
    const name = written.name;
    let l = written;
    if (this.sizes.has(name)) fail('bad-name', `${name} is a size and cannot be assigned`, l.span);
    if (this.consts.has(name)) fail('bad-name', `${name} is a constant and cannot be assigned`, l.span, `its value is fixed by \`const ${name} = …\``);
    if (this.defs.has(name) || (BUILTINS as readonly string[]).includes(name)) fail('bad-name', `${name} is a function and cannot be assigned`, l.span);
    if (this.ints.has(name)) fail('bad-name', `${name} is an integer input (declared int) and cannot be assigned`, l.span, 'integer tensors are data the caller gives, read as subscripts: E[tok[n], d]');
    if (written.add) return this.scatterAdd(written);
    if (this.assigned.has(name))
      fail('assigned-twice', `${name} is already assigned in line ${this.assigned.get(name)}`, l.span, `each tensor is assigned once; give this one another name, or add both right sides in one statement`);
    if (this.firstRead.has(name)) {
      const r = this.firstRead.get(name)!;
      fail('used-before-assigned', `${name} is read in line ${r.line} before it is assigned in line ${l.span.line}`, r, 'statements run top to bottom: assign a tensor before reading it');
    }
    for (const s of l.subs ?? [])
      if (s.k === 'access' && this.ints.has(s.name))
        fail('bad-left-side', `a data-dependent left side adds into ${name}: write \`${name}[…] += …\``, s.span, `assign ${name} first (e.g. \`${name}[…] = 0\`), then scatter-add into it with +=`);
    // bounded before anything is built from it (the matrix notation's expansion recurses on it)
    this.checkInlinedSize(written);
    // matrix notation (f = x'*A*x) becomes index notation, with indices of its own on the left
    const expanded = expandMatrixNotation(written, this);
    if (expanded) l = expanded.line;
    // an affine left side (Y[n, g*Fg+f] = …) becomes a plain index and an equality the right side sums over
    l = solveLeftSide(l, this) ?? l;
    // Left side: distinct plain index names.
    const lhsNames: string[] = [];
    for (const s of l.subs ?? []) {
      if (s.k !== 'name') fail('bad-left-side', `the left side of ${name} takes index names, found an expression`, s.span, 'move index arithmetic to the right side, e.g. `Y[u] = X[2*u]`');
      const n = (s as { name: string }).name;
      if (this.sizes.has(n)) fail('bad-left-side', `${n} is a size, not an index`, s.span, 'use a lowercase index name on the left side');
      if (this.consts.has(n)) fail('bad-left-side', `${n} is a constant, not an index`, s.span, 'use another index name');
      if (lhsNames.includes(n)) fail('bad-left-side', `index ${n} appears twice on the left side of ${name}`, s.span, 'left-side indices must be distinct; read the diagonal on the right: `d[i] = A[i,i]`');
      lhsNames.push(n);
    }
    const decl = this.declared.get(name);
    if (decl && decl.shape.length !== lhsNames.length)
      fail('rank-mismatch', `${name} is declared with ${decl.shape.length} dimension${decl.shape.length === 1 ? '' : 's'} but assigned with ${lhsNames.length} subscript${lhsNames.length === 1 ? '' : 's'}`, l.span, `write ${name}${decl.shape.length ? `[${decl.shape.map((_, i) => 'ijklmn'[i] ?? `i${i}`).join(',')}]` : ''} = …`);
    this.see(name, { line: l.span.line, col: l.span.col, length: name.length });
    const st = new StatementChecker(this, name, lhsNames, l, expanded?.shape);
    const stmt = st.run();
    this.assigned.set(name, l.span.line);
    this.statements.push(expanded ? { ...stmt, notation: 'matrix' } : stmt);
  }

  /** `T[tok[n], d] += rhs`: a scatter-add into a tensor an earlier statement assigned. Its loop
   *  indices are the names in its left subscripts (n, d); indices only on the right are summed. */
  private scatterAdd(l: Extract<Line, { k: 'assign' }>) {
    const name = l.name;
    if (!this.assigned.has(name))
      fail('bad-left-side', `+= adds into ${name}, which no earlier statement assigns`, l.span, `assign it first, e.g. \`${name}[…] = 0\``);
    if (!l.subs?.length) fail('bad-left-side', `+= scatters into the elements of a tensor: write ${name}[tok[n], …] += …`, l.span);
    const loops: string[] = [];
    const collect = (a: Ast) => {
      if (a.k === 'name' && !this.sizes.has(a.name) && !this.consts.has(a.name) && !this.ints.has(a.name) && !loops.includes(a.name)) loops.push(a.name);
      if (a.k === 'access') a.subs.forEach(collect);
      if (a.k === 'binary') [a.a, a.b].forEach(collect);
      if (a.k === 'unary') collect(a.arg);
    };
    l.subs!.forEach(collect);
    this.see(name, { line: l.span.line, col: l.span.col, length: name.length });
    this.statements.push(new StatementChecker(this, name, loops, l, undefined, true).run());
  }

  // --- helpers used by StatementChecker ---
  isTensorName(n: string): boolean {
    return this.declared.has(n) || this.assigned.has(n) || this.shapes.has(n);
  }
  /** a tensor or constant somewhere in the program, before or after this statement */
  isProgramName(n: string): boolean {
    return this.programNames.has(n) || this.isTensorName(n);
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
    while (this.declared.has(name) || this.assigned.has(name) || this.defs.has(name) || this.seen.has(name) || this.programNames.has(name)) name = `${preferred}${k++}`;
    this.ensureSize(name);
    return name;
  }
}

export function check(source: string, limits: Limits = {}): Program {
  return new Checker(source.replace(/^\uFEFF/, ''), limitsWith(limits)).run();
}

export { DeltagradError };
export const usedVars = idxVars;
