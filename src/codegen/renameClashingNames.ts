// renameClashingNames: a program and its gradients → the same program with every tensor, size and
// index name one the emitted kernels can declare as a local. The user's names stay the keys of the
// kernels' `t` and `s` records (`key` maps a local back); only the locals change.
//
// Worked example: in `class[i] = t[i] * Math` (tensors class and t, size Math) the locals would be a
// reserved word, the kernel's own parameter `t` and the global whose Math.floor loop bounds call, so
// the kernels are lowered from `class_[i] = t_[i] * Math_` and emitted as
//   export function forward_class(t: { readonly class: Float64Array; readonly t: Float64Array }, s: { readonly Math: number }) {
//     const { class: class_, t: t_ } = t;
//     const { Math: Math_ } = s;
// A name that is not an ASCII identifier (`x²`, `é`: the language's names allow any letter and
// digit) gets one (`x__`, `__`), and its keys are quoted. A program whose names are all safe comes back as the very same
// object, so it emits the same bytes as before this pass existed.
import { access, children, mapChildren, reduce } from '../ir/exprs.js';
import { POLY_ZERO, polyAdd, polyConst, polyMul, polyScale, polySizes, polyVar, sizeNames } from '../ir/sizes.js';
import { assertNever, BUILTINS, type Atom, type Bound, type Expr, type IndexExpr, type Poly, type Program, type SizeExpr, type Statement } from '../ir/types.js';
import type { GradientStatement } from '../diff/differentiate.js';
import { argmaxName } from './lowerToLoops.js';

/** Names a kernel body cannot declare, or must not shadow. */
const CLASHING = new Set([
  // reserved words (a module is strict code, so the strict-mode ones too) and strict mode's two restricted bindings
  ...'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await eval arguments'.split(' '),
  // globals the emitted code reads
  ...'Math Infinity NaN undefined Float32Array Float64Array Int32Array Uint8Array WebAssembly'.split(' '),
  // the module's helpers (relu, sigmoid, max, …) are named for the builtin they compute
  ...BUILTINS,
]);

/** The kernel's parameters, the tensor record and the size record: a tensor or size named so would
 * be destructured from itself. A loop index may shadow them, as nothing reads them in a loop. */
const PARAMETERS = new Set(['t', 's']);

// ASCII only: TypeScript's transpiler drops letters newer than its Unicode tables (U+10D4A), and
// every other emitted target (WebAssembly names, WGSL) has rules of its own
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export interface LocalNames {
  /** the program with safe names (the input object itself when every name was safe) */
  readonly program: Program;
  readonly grads: readonly GradientStatement[];
  /** a local name (tensor, size or arg-max record) → the user's name, the key of `t` or `s` */
  readonly key: (local: string) => string;
  /** a user's name → its local */
  readonly local: (name: string) => string;
  /** a size expression of the user's program in local names */
  readonly size: (s: SizeExpr) => SizeExpr;
  /** true when some name was renamed */
  readonly renamed: boolean;
}

export function renameClashingNames(p: Program, grads: readonly GradientStatement[]): LocalNames {
  // sizes and tensors (destructured from `s` and `t`) first, then indices
  const records = new Set<string>([...p.sizes.map((z) => z.name), ...p.tensors.map((t) => t.name)]);
  const indices = new Set<string>();
  for (const s of [...p.statements, ...grads.map((g) => g.statement)]) namesOf(s, records, indices);
  const names = new Set([...records, ...indices]);
  const map = new Map<string, string>();
  // in order of first appearance, so the choice of names is deterministic
  for (const name of names) {
    if (!CLASHING.has(name) && !(PARAMETERS.has(name) && records.has(name)) && IDENTIFIER.test(name)) continue;
    let local = `${[...name].map((c) => (/[A-Za-z0-9_$]/.test(c) ? c : '_')).join('')}_`;
    if (!/^[A-Za-z_$]/.test(local)) local = `_${local}`;
    while (names.has(local) || CLASHING.has(local) || [...map.values()].includes(local)) local += '_';
    map.set(name, local);
  }
  if (map.size === 0) return { program: p, grads, key: (x) => x, local: (x) => x, size: (s) => s, renamed: false };

  const n = (x: string) => map.get(x) ?? x;
  const back = new Map<string, string>();
  for (const [name, local] of map) {
    back.set(local, name);
    back.set(argmaxName(local), argmaxName(name));
  }
  const size = (s: SizeExpr) => renameSize(s, n);
  const statement = (s: Statement): Statement => ({ ...s, tensor: n(s.tensor), lhs: s.lhs.map((b) => renameBound(b, n)), rhs: renameExpr(s.rhs, n) });
  return {
    program: {
      sizes: p.sizes.map((z) => ({ ...z, name: n(z.name) })),
      tensors: p.tensors.map((t) => ({ ...t, name: n(t.name), shape: t.shape.map(size) })),
      statements: p.statements.map(statement),
      source: p.source,
    },
    grads: grads.map((g) => ({ ...g, of: n(g.of), statement: statement(g.statement) })),
    key: (x) => back.get(x) ?? x,
    local: n,
    size,
    renamed: true,
  };
}

/** Every name a statement mentions: tensors and sizes added to `records`, indices to `indices`. */
function namesOf(s: Statement, records: Set<string>, indices: Set<string>): void {
  const out = records;
  const size = (z: SizeExpr) => sizeNames(z).forEach((x) => out.add(x));
  const index = (ix: IndexExpr): void => {
    for (const t of ix.terms) {
      polySizes(t.coef).forEach((x) => out.add(x));
      if (t.atom.kind === 'var') indices.add(t.atom.name);
      else {
        index(t.atom.of);
        polySizes(t.atom.by).forEach((x) => out.add(x));
      }
    }
    polySizes(ix.constant).forEach((x) => out.add(x));
  };
  const bound = (b: Bound) => {
    indices.add(b.name);
    size(b.extent);
  };
  const walk = (e: Expr): void => {
    switch (e.kind) {
      case 'sizeval':
        return size(e.size);
      case 'index':
        return index(e.expr);
      case 'access':
        out.add(e.tensor);
        return e.subs.forEach(index);
      case 'delta':
        index(e.a);
        return index(e.b);
      case 'reduce':
        e.indices.forEach(bound);
        return walk(e.body);
      case 'argmax':
        e.indices.forEach(bound);
        e.at.forEach(index);
        return walk(e.body);
      default:
        children(e).forEach(walk);
    }
  };
  out.add(s.tensor);
  s.lhs.forEach(bound);
  walk(s.rhs);
}

const renamePoly = (p: Poly, n: (x: string) => string): Poly =>
  [...p].reduce((acc, [mono, v]) => polyAdd(acc, polyScale(mono ? mono.split('*').map((x) => polyVar(n(x))).reduce(polyMul) : polyConst(1), v)), POLY_ZERO);

function renameSize(s: SizeExpr, n: (x: string) => string): SizeExpr {
  switch (s.kind) {
    case 'poly':
      return { kind: 'poly', poly: renamePoly(s.poly, n) };
    case 'div':
      return { kind: 'div', num: renameSize(s.num, n), den: renameSize(s.den, n) };
    case 'sum':
      return { kind: 'sum', terms: s.terms.map((t) => renameSize(t, n)) };
    default:
      return assertNever(s);
  }
}

// the renaming is one-to-one, so no two terms merge and the expression keeps its shape
const renameIndex = (ix: IndexExpr, n: (x: string) => string): IndexExpr => ({
  terms: ix.terms.map(({ atom, coef }) => ({
    atom: (atom.kind === 'var' ? { kind: 'var', name: n(atom.name) } : { kind: atom.kind, of: renameIndex(atom.of, n), by: renamePoly(atom.by, n) }) as Atom,
    coef: renamePoly(coef, n),
  })),
  constant: renamePoly(ix.constant, n),
});

const renameBound = (b: Bound, n: (x: string) => string): Bound => ({ name: n(b.name), extent: renameSize(b.extent, n) });

function renameExpr(e: Expr, n: (x: string) => string): Expr {
  switch (e.kind) {
    case 'sizeval':
      return { kind: 'sizeval', size: renameSize(e.size, n) };
    case 'index':
      return { kind: 'index', expr: renameIndex(e.expr, n) };
    case 'access':
      return access(n(e.tensor), e.subs.map((x) => renameIndex(x, n)));
    case 'delta':
      return { kind: 'delta', a: renameIndex(e.a, n), b: renameIndex(e.b, n) };
    case 'reduce':
      return reduce(e.op, e.indices.map((b) => renameBound(b, n)), renameExpr(e.body, n));
    case 'argmax':
      return { ...e, indices: e.indices.map((b) => renameBound(b, n)), at: e.at.map((x) => renameIndex(x, n)), body: renameExpr(e.body, n) };
    default:
      return mapChildren(e, (c) => renameExpr(c, n));
  }
}
