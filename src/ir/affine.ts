// Affine index expressions: Σ coef·atom + constant, coefficients being integer polynomials in sizes.
//
// Worked example: the strided conv subscript `u*T+i-P` is
//   { terms: [{atom: var u, coef: T}, {atom: var i, coef: 1}], constant: -P }
// substituting i := h+P-u*T into it gives `h` (the u*T and P terms cancel), which is how delta
// elimination turns δ(u*T+i-P, h) into the gather-form read K[f,c,h+P-u*T, …].
import { assertNever, type Atom, type IndexExpr, type Poly } from './types.js';
import {
  POLY_ONE,
  POLY_ZERO,
  polyAdd,
  polyConst,
  polyConstValue,
  polyEquals,
  polyIsZero,
  polyKey,
  polyMul,
  polyScale,
  polyVar,
  printPoly,
} from './sizes.js';

export const atomKey = (a: Atom): string => {
  switch (a.kind) {
    case 'var':
      return a.name;
    case 'div':
      return `(${idxKey(a.of)})/(${polyKey(a.by)})`;
    case 'mod':
      return `(${idxKey(a.of)})%(${polyKey(a.by)})`;
    case 'read':
      return `${a.tensor}[${a.subs.map(idxKey).join(',')}]`;
    default:
      return assertNever(a);
  }
};

/** terms merged by a linear search up to this many; a map past it */
const SHORT = 8;

function makeIdx(terms: readonly { atom: Atom; coef: Poly }[], constant: Poly): IndexExpr {
  // one atom: nothing to merge, and a quotient needs its remainder beside it to fold
  if (terms.length < 2) return { terms: terms.length && !polyIsZero(terms[0]!.coef) ? [{ atom: terms[0]!.atom, coef: terms[0]!.coef }] : [], constant };
  const merged: { atom: Atom; coef: Poly }[] = [];
  // the atoms' keys in merged's order; a map only for long expressions (most have two or three terms)
  const keys: string[] = [];
  const at = terms.length > SHORT ? new Map<string, number>() : undefined;
  for (let n = 0; n < terms.length; n++) {
    const t = terms[n]!;
    const k = atomKey(t.atom);
    const i = at ? at.get(k) : keys.indexOf(k);
    if (i === undefined || i < 0) {
      at?.set(k, merged.length);
      keys.push(k);
      merged.push({ atom: t.atom, coef: t.coef });
    } else merged[i] = { atom: merged[i]!.atom, coef: polyAdd(merged[i]!.coef, t.coef) };
  }
  let out: IndexExpr = { terms: merged.filter((t) => !polyIsZero(t.coef)), constant };
  out = foldDivMod(out);
  return out;
}

/** s·(e/s) + (e%s) → e: the identity that undoes a mixed-radix split. */
function foldDivMod(e: IndexExpr): IndexExpr {
  for (const t of e.terms) {
    if (t.atom.kind !== 'div') continue;
    const q = t.atom;
    const modTerm = e.terms.find((m) => m.atom.kind === 'mod' && idxKey(m.atom.of) === idxKey(q.of) && polyEquals(m.atom.by, q.by));
    if (!modTerm) continue;
    // coef(div) must equal coef(mod)·s
    if (!polyEquals(t.coef, polyMul(modTerm.coef, q.by))) continue;
    const rest = e.terms.filter((x) => x !== t && x !== modTerm);
    return idxAdd({ terms: rest, constant: e.constant }, idxScale(q.of, modTerm.coef));
  }
  return e;
}

export const idxConst = (p: Poly): IndexExpr => ({ terms: [], constant: p });
export const idxNum = (n: number): IndexExpr => idxConst(polyConst(n));
export const idxVar = (name: string): IndexExpr => ({ terms: [{ atom: { kind: 'var', name }, coef: POLY_ONE }], constant: POLY_ZERO });
export const idxSizeName = (name: string): IndexExpr => idxConst(polyVar(name));

export const idxAdd = (a: IndexExpr, b: IndexExpr): IndexExpr => makeIdx([...a.terms, ...b.terms], polyAdd(a.constant, b.constant));
export const idxScale = (a: IndexExpr, k: Poly): IndexExpr =>
  makeIdx(
    a.terms.map((t) => ({ atom: t.atom, coef: polyMul(t.coef, k) })),
    polyMul(a.constant, k),
  );
export const idxNeg = (a: IndexExpr): IndexExpr => idxScale(a, polyConst(-1));
export const idxSub = (a: IndexExpr, b: IndexExpr): IndexExpr => idxAdd(a, idxNeg(b));

/** The constant polynomial of an index expression without atoms, else undefined. */
export const idxAsConst = (e: IndexExpr): Poly | undefined => (e.terms.length === 0 ? e.constant : undefined);

/** Floor division by a positive size polynomial; exact when every coefficient divides. */
export function idxDiv(a: IndexExpr, by: Poly): IndexExpr {
  const d = polyConstValue(by);
  if (d === 1) return a;
  const divisible = (p: Poly) => {
    if (d !== undefined) return [...p.values()].every((v) => v % d === 0);
    return polyIsZero(p) || polyEquals(p, by);
  };
  if (d !== undefined && a.terms.every((t) => divisible(t.coef)) && divisible(a.constant)) return idxScale(a, polyConst(1 / d));
  if (d === undefined && a.terms.every((t) => polyEquals(t.coef, by)) && polyIsZero(a.constant))
    return makeIdx(
      a.terms.map((t) => ({ atom: t.atom, coef: POLY_ONE })),
      POLY_ZERO,
    );
  const c = idxAsConst(a);
  if (c && d !== undefined) {
    const v = polyConstValue(c);
    if (v !== undefined) return idxNum(Math.floor(v / d));
  }
  return { terms: [{ atom: { kind: 'div', of: a, by }, coef: POLY_ONE }], constant: POLY_ZERO };
}

export function idxMod(a: IndexExpr, by: Poly): IndexExpr {
  const d = polyConstValue(by);
  if (d === 1) return idxNum(0);
  const c = idxAsConst(a);
  if (c && d !== undefined) {
    const v = polyConstValue(c);
    if (v !== undefined) return idxNum(((v % d) + d) % d);
  }
  return { terms: [{ atom: { kind: 'mod', of: a, by }, coef: POLY_ONE }], constant: POLY_ZERO };
}

/** Replace every occurrence of variable `name` (also inside quotients and remainders). */
export function idxSubstitute(e: IndexExpr, name: string, by: IndexExpr): IndexExpr {
  // a subscript without the name is its own substitute (a delta's index is in few of them)
  if (!mentions(e, (v) => v === name)) return e;
  let out: IndexExpr = idxConst(e.constant);
  for (const t of e.terms) {
    const a = t.atom;
    switch (a.kind) {
      case 'var':
        out = idxAdd(out, a.name === name ? idxScale(by, t.coef) : { terms: [t], constant: POLY_ZERO });
        break;
      case 'div':
        out = idxAdd(out, idxScale(idxDiv(idxSubstitute(a.of, name, by), a.by), t.coef));
        break;
      case 'mod':
        out = idxAdd(out, idxScale(idxMod(idxSubstitute(a.of, name, by), a.by), t.coef));
        break;
      case 'read':
        out = idxAdd(out, idxScale(idxRead(a.tensor, a.subs.map((x) => idxSubstitute(x, name, by))), t.coef));
        break;
      default:
        assertNever(a);
    }
  }
  return out;
}

/** Whether e has a variable (inside quotients, remainders and reads too) that `has`. */
function mentions(e: IndexExpr, has: (name: string) => boolean): boolean {
  for (const t of e.terms) {
    const a = t.atom;
    if (a.kind === 'var' ? has(a.name) : atomArgs(a).some((x) => mentions(x, has))) return true;
  }
  return false;
}

/** idxRename of an expression of plain variables, in one pass: each term added in order as
 *  idxSubstitute adds it (a term that lands on an earlier one's variable merges into it, and a sum
 *  that cancels leaves) — without the two substitutions per name that rename through placeholders. */
function renameVars(e: IndexExpr, map: ReadonlyMap<string, string>): IndexExpr {
  const terms: { atom: Atom; coef: Poly }[] = [];
  for (const t of e.terms) {
    const old = (t.atom as Extract<Atom, { kind: 'var' }>).name;
    const name = map.get(old) ?? old;
    const at = terms.findIndex((x) => (x.atom as Extract<Atom, { kind: 'var' }>).name === name);
    if (at < 0) terms.push({ atom: name === old ? t.atom : { kind: 'var', name }, coef: t.coef });
    else {
      const coef = polyAdd(terms[at]!.coef, t.coef);
      if (polyIsZero(coef)) terms.splice(at, 1);
      else terms[at] = { atom: terms[at]!.atom, coef };
    }
  }
  return { terms, constant: polyAdd(e.constant, POLY_ZERO) };
}

export function idxRename(e: IndexExpr, map: ReadonlyMap<string, string>): IndexExpr {
  // most subscripts mention none of the names: renaming a whole gradient then copies nothing
  if (!mentions(e, (v) => map.has(v))) return e;
  if (e.terms.every((t) => t.atom.kind === 'var')) return renameVars(e, map);
  let out = e;
  // Rename through fresh placeholders so swaps (i↔j) work.
  const tmp = [...map.keys()].map((k, n) => [k, `\u0000${n}`] as const);
  for (const [k, t] of tmp) out = idxSubstitute(out, k, idxVar(t));
  for (const [k, t] of tmp) out = idxSubstitute(out, t, idxVar(map.get(k)!));
  return out;
}

/** The index expressions an atom is a function of: a quotient's dividend, a read's subscripts. */
export const atomArgs = (a: Atom): readonly IndexExpr[] => (a.kind === 'var' ? [] : a.kind === 'read' ? a.subs : [a.of]);

/** `tok[n]`: the value of an integer tensor's element, as an index expression. */
export const idxRead = (tensor: string, subs: readonly IndexExpr[]): IndexExpr => ({
  terms: [{ atom: { kind: 'read', tensor, subs }, coef: POLY_ONE }],
  constant: POLY_ZERO,
});

/** The integer tensors an index expression reads (data-dependent subscripts), nested reads included. */
export function idxReads(e: IndexExpr): string[] {
  const out: string[] = [];
  for (const t of e.terms) {
    if (t.atom.kind === 'read') out.push(t.atom.tensor);
    for (const x of atomArgs(t.atom)) out.push(...idxReads(x));
  }
  return [...new Set(out)];
}

/** f of each variable anywhere in the expression, in idxVars' order (repeats too), with no list made. */
export function forEachVar(e: IndexExpr, f: (name: string) => void): void {
  // indexed: a for-of allocates an iterator and a result a step in cold code
  for (let i = 0; i < e.terms.length; i++) {
    const a = e.terms[i]!.atom;
    if (a.kind === 'var') f(a.name);
    else {
      const args = atomArgs(a);
      for (let j = 0; j < args.length; j++) forEachVar(args[j]!, f);
    }
  }
}

/** Variable names anywhere in the expression (including inside quotients, remainders and reads). */
export function idxVars(e: IndexExpr): string[] {
  const out: string[] = [];
  for (const t of e.terms) {
    const a = t.atom;
    if (a.kind === 'var') out.push(a.name);
    else for (const x of atomArgs(a)) out.push(...idxVars(x));
  }
  return [...new Set(out)];
}

/** Coefficient of a variable as a direct term; undefined when absent; 'nested' when it also sits in a quotient/remainder. */
export function idxCoef(e: IndexExpr, name: string): Poly | 'nested' | undefined {
  let coef: Poly | undefined;
  for (const t of e.terms) {
    if (t.atom.kind === 'var') {
      if (t.atom.name === name) coef = t.coef;
    } else if (atomArgs(t.atom).some((x) => idxVars(x).includes(name))) return 'nested';
  }
  return coef;
}

/** The plain variable when the expression is exactly one index, else undefined. */
export function idxAsVar(e: IndexExpr): string | undefined {
  if (e.terms.length !== 1 || !polyIsZero(e.constant)) return undefined;
  const t = e.terms[0]!;
  return t.atom.kind === 'var' && polyConstValue(t.coef) === 1 ? t.atom.name : undefined;
}

/** Canonical text, used as a structural key. */
export function idxKey(e: IndexExpr): string {
  return printIndex(e);
}

function atomText(a: Atom, wrap: boolean, rename: ReadonlyMap<string, string> | undefined): string {
  switch (a.kind) {
    case 'var':
      return rename?.get(a.name) ?? a.name;
    case 'div':
    case 'mod': {
      const inner = printIndexAs(a.of, rename);
      const simpleOf = idxAsVar(a.of) !== undefined || (a.of.terms.length === 0);
      const by = printPoly(a.by);
      // a product of sizes is not simple: x%(A*B), not x%A*B = (x%A)*B
      const simpleBy = a.by.size === 1 && [...a.by.values()][0]! > 0 && ([...a.by.keys()][0] === '' || ([...a.by.values()][0] === 1 && ![...a.by.keys()][0]!.includes('*')));
      const txt = `${simpleOf ? inner : `(${inner})`}${a.kind === 'div' ? '/' : '%'}${simpleBy ? by : `(${by})`}`;
      return wrap ? `(${txt})` : txt;
    }
    case 'read':
      return a.subs.length ? `${a.tensor}[${a.subs.map((x) => printIndexAs(x, rename)).join(',')}]` : a.tensor;
    default:
      return assertNever(a);
  }
}

/** Language text of an index expression: `u*T+i-P`, `h/2`, `(h+P-i)%T`. */
export function printIndex(e: IndexExpr): string {
  return printIndexAs(e, undefined);
}

/** The key of e with variables renamed, without building the renamed expression: for a renaming
 *  that is one-to-one onto names e does not use, `idxKey(idxRename(e, rename))`. */
export const idxKeyRenamed = (e: IndexExpr, rename: ReadonlyMap<string, string>): string => printIndexAs(e, rename);

function printIndexAs(e: IndexExpr, rename: ReadonlyMap<string, string> | undefined): string {
  // most subscripts are one index: its name (what the general case below prints for it)
  if (e.terms.length === 1 && e.constant.size === 0) {
    const t = e.terms[0]!;
    if (t.atom.kind === 'var' && t.coef.size === 1 && t.coef.get('') === 1) return rename?.get(t.atom.name) ?? t.atom.name;
  }
  // or a number (X[9999] in a sum of 10 000 reads): what the general case prints for it
  if (e.terms.length === 0 && e.constant.size <= 1) {
    const v = e.constant.get('');
    if (e.constant.size === 0) return '0';
    if (v !== undefined) return v < 0 ? `-${-v}` : String(v);
  }
  // Positive parts first, then negative ones: `h+P-u*T` rather than `-u*T+h+P`.
  const parts: { negative: boolean; body: string }[] = [];
  // a leading `-` would apply to the dividend: -(h/2) is not -h/2 = (-h)/2
  const leadingMinus = e.terms.every((t) => [...t.coef.values()].every((v) => v < 0)) && [...e.constant.values()].every((v) => v < 0);
  for (const t of e.terms) {
    const k = polyConstValue(t.coef);
    if (k !== undefined) {
      const mag = Math.abs(k);
      parts.push({ negative: k < 0, body: mag === 1 ? atomText(t.atom, k < 0 && leadingMinus, rename) : `${mag}*${atomText(t.atom, true, rename)}` });
    } else if (t.coef.size === 1) {
      const [mono, v] = [...t.coef][0]!;
      const mag = Math.abs(v);
      parts.push({ negative: v < 0, body: `${atomText(t.atom, true, rename)}*${mag === 1 ? mono : `${mag}*${mono}`}` });
    } else {
      parts.push({ negative: false, body: `${atomText(t.atom, true, rename)}*(${printPoly(t.coef)})` });
    }
  }
  for (const [mono, v] of e.constant) {
    const mag = Math.abs(v);
    parts.push({ negative: v < 0, body: mono === '' ? String(mag) : mag === 1 ? mono : `${mag}*${mono}` });
  }
  const ordered = [...parts.filter((p) => !p.negative), ...parts.filter((p) => p.negative)];
  let out = '';
  for (const p of ordered) out += out === '' ? (p.negative ? '-' : '') + p.body : (p.negative ? '-' : '+') + p.body;
  return out === '' ? '0' : out;
}
