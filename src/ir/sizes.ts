// Size arithmetic: integer polynomials in size names (Poly) and size expressions with floor division.
//
// Worked example: the output height of a strided, padded convolution
//   sizeAdd(sizeDiv(poly(H + 2*P - R), poly(T)), poly(1))  prints as  (H+2*P-R)/T+1
// and evaluates with {H: 28, P: 1, R: 3, T: 2} to 14.
import { assertNever, type Poly, type SizeExpr } from './types.js';

// ---- polynomials -------------------------------------------------------------------------------

function makePoly(entries: Iterable<[string, number]>): Poly {
  const acc = new Map<string, number>();
  for (const [k, v] of entries) acc.set(k, (acc.get(k) ?? 0) + v);
  // Canonical order (alphabetical monomials, constant last) so that printing and keys are stable.
  const keys = [...acc.keys()].filter((k) => acc.get(k) !== 0).sort((a, b) => (a === '' ? 1 : b === '' ? -1 : a < b ? -1 : a > b ? 1 : 0));
  return new Map(keys.map((k) => [k, acc.get(k)!]));
}

export const POLY_ZERO: Poly = new Map();
export const POLY_ONE: Poly = new Map([['', 1]]);
const POLY_MINUS_ONE: Poly = new Map([['', -1]]);
// Polys are immutable and canonical, so the common ones are shared and the shortcuts below give
// back an operand as it is: index arithmetic (a δ solved per gradient term) makes millions of them
export const polyConst = (n: number): Poly => (n === 0 ? POLY_ZERO : n === 1 ? POLY_ONE : n === -1 ? POLY_MINUS_ONE : new Map([['', n]]));
export const polyVar = (name: string): Poly => makePoly([[name, 1]]);

/** the number of a constant polynomial (0 has no monomial), else undefined; no iterator made */
const constantOf = (p: Poly): number | undefined => (p.size === 0 ? 0 : p.size === 1 ? p.get('') : undefined);

export function polyAdd(a: Poly, b: Poly): Poly {
  if (b.size === 0) return a;
  if (a.size === 0) return b;
  // two numbers (most offsets): their sum, shared when it is 0, 1 or −1
  const x = constantOf(a);
  const y = x === undefined ? undefined : constantOf(b);
  return y === undefined ? makePoly([...a, ...b]) : polyConst(x! + y);
}
/** s·a: the monomials stay those of a, in its order (none vanishes unless s does) */
export function polyScale(a: Poly, s: number): Poly {
  if (s === 1 || a.size === 0) return a;
  // a number (the coefficient 1 of nearly every index, negated): shared when it is 0, 1 or −1
  const v = constantOf(a);
  if (v !== undefined) return polyConst(v * s);
  const out = new Map<string, number>();
  for (const [k, v] of a) if (v * s !== 0) out.set(k, v * s);
  return out;
}
export const polySub = (a: Poly, b: Poly): Poly => polyAdd(a, polyScale(b, -1));

const isOne = (p: Poly): boolean => p.size === 1 && p.get('') === 1;

export function polyMul(a: Poly, b: Poly): Poly {
  // 1·b is b (both are canonical): most coefficients are 1
  if (isOne(a)) return b;
  if (isOne(b)) return a;
  // a number times a polynomial keeps its monomials (−1·(i + N) in every index negated)
  if (a.size === 1 && a.has('')) return polyScale(b, a.get('')!);
  if (b.size === 1 && b.has('')) return polyScale(a, b.get('')!);
  const out: [string, number][] = [];
  for (const [ka, va] of a)
    for (const [kb, vb] of b) {
      const names = [...(ka ? ka.split('*') : []), ...(kb ? kb.split('*') : [])].sort();
      out.push([names.join('*'), va * vb]);
    }
  return makePoly(out);
}

export const polyIsZero = (p: Poly): boolean => p.size === 0;
/** The numeric value of a constant polynomial, or undefined when it mentions a size. */
export function polyConstValue(p: Poly): number | undefined {
  if (p.size === 0) return 0;
  if (p.size === 1 && p.has('')) return p.get('')!;
  return undefined;
}
export const polyKey = (p: Poly): string => printPoly(p);
export const polyEquals = (a: Poly, b: Poly): boolean => polyKey(a) === polyKey(b);

export function polyEval(p: Poly, sizes: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const [k, v] of p) {
    let m = v;
    if (k)
      for (const name of k.split('*')) {
        const s = sizes.get(name);
        if (s === undefined) throw new Error(`size ${name} has no value`);
        m *= s;
      }
    total += m;
  }
  return total;
}

export function printPoly(p: Poly): string {
  if (p.size === 0) return '0';
  if (p.size === 1) {
    // one monomial (most are): what the general case below prints for it
    const [k, v] = p.entries().next().value as [string, number];
    const mag = Math.abs(v);
    if (v !== 0) return (v < 0 ? '-' : '') + (k === '' ? String(mag) : mag === 1 ? k : `${mag}*${k}`);
  }
  // positive monomials first: R-1-P reads better than -P+R-1
  const order = (a: [string, number], b: [string, number]) =>
    (a[0] === '' ? 1 : 0) - (b[0] === '' ? 1 : 0) || Math.abs(a[1]) - Math.abs(b[1]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const entries = [...p].filter(([, v]) => v > 0).sort(order).concat([...p].filter(([, v]) => v < 0).sort(order));
  let out = '';
  for (const [k, v] of entries) {
    const mag = Math.abs(v);
    const body = k === '' ? String(mag) : mag === 1 ? k : `${mag}*${k}`;
    out += out === '' ? (v < 0 ? '-' : '') + body : (v < 0 ? '-' : '+') + body;
  }
  return out;
}

/** Size names a polynomial mentions. */
export function polySizes(p: Poly): string[] {
  // a loop: a key array and a split per monomial cost every gradient position (sizeNames) a few
  const out: string[] = [];
  for (const k of p.keys()) {
    if (!k) continue;
    if (k.includes('*')) for (const n of k.split('*')) out.push(n);
    else out.push(k);
  }
  return out;
}

/** true when every monomial has a positive coefficient (sizes are positive, so the value is > 0). */
export const polyIsPositive = (p: Poly): boolean => p.size > 0 && [...p.values()].every((v) => v > 0);

// ---- size expressions --------------------------------------------------------------------------

export const sizePoly = (poly: Poly): SizeExpr => ({ kind: 'poly', poly });
export const sizeConst = (n: number): SizeExpr => sizePoly(polyConst(n));
export const sizeName = (name: string): SizeExpr => sizePoly(polyVar(name));

function splitSum(s: SizeExpr): { rest: SizeExpr[]; poly: Poly } {
  switch (s.kind) {
    case 'poly':
      return { rest: [], poly: s.poly };
    case 'sum': {
      const rest: SizeExpr[] = [];
      let poly = POLY_ZERO;
      for (const t of s.terms) {
        const part = splitSum(t);
        rest.push(...part.rest);
        poly = polyAdd(poly, part.poly);
      }
      return { rest, poly };
    }
    case 'div':
      return { rest: [s], poly: POLY_ZERO };
    default:
      return assertNever(s);
  }
}

export function sizeAdd(a: SizeExpr, b: SizeExpr): SizeExpr {
  const x = splitSum(a);
  const y = splitSum(b);
  const rest = [...x.rest, ...y.rest];
  const poly = polyAdd(x.poly, y.poly);
  if (rest.length === 0) return sizePoly(poly);
  if (polyIsZero(poly) && rest.length === 1) return rest[0]!;
  return { kind: 'sum', terms: polyIsZero(poly) ? rest : [...rest, sizePoly(poly)] };
}

export function sizeScale(a: SizeExpr, k: number): SizeExpr {
  switch (a.kind) {
    case 'poly':
      return sizePoly(polyScale(a.poly, k));
    case 'sum':
      return a.terms.map((t) => sizeScale(t, k)).reduce(sizeAdd);
    case 'div':
      if (k === 1) return a;
      throw new SizeArithmeticError(`cannot scale ${printSize(a)} by ${k}`);
    default:
      return assertNever(a);
  }
}

export const sizeSub = (a: SizeExpr, b: SizeExpr): SizeExpr => sizeAdd(a, sizeScale(b, -1));

export class SizeArithmeticError extends Error {}

export function sizeMul(a: SizeExpr, b: SizeExpr): SizeExpr {
  if (a.kind === 'poly' && b.kind === 'poly') return sizePoly(polyMul(a.poly, b.poly));
  const ka = a.kind === 'poly' ? polyConstValue(a.poly) : undefined;
  const kb = b.kind === 'poly' ? polyConstValue(b.poly) : undefined;
  if (ka !== undefined) return sizeScale(b, ka);
  if (kb !== undefined) return sizeScale(a, kb);
  throw new SizeArithmeticError(`cannot multiply ${printSize(a)} by ${printSize(b)}`);
}

export function sizeDiv(a: SizeExpr, b: SizeExpr): SizeExpr {
  if (b.kind === 'poly') {
    const d = polyConstValue(b.poly);
    if (d === 1) return a;
    if (a.kind === 'poly' && d !== undefined && d !== 0 && [...a.poly.values()].every((v) => v % d === 0))
      return sizePoly(polyScale(a.poly, 1 / d));
    if (a.kind === 'poly' && polyEquals(a.poly, b.poly)) return sizeConst(1);
  }
  return { kind: 'div', num: a, den: b };
}

export function sizeEval(s: SizeExpr, sizes: ReadonlyMap<string, number>): number {
  switch (s.kind) {
    case 'poly':
      return polyEval(s.poly, sizes);
    case 'div': {
      const d = sizeEval(s.den, sizes);
      if (d === 0) throw new Error(`division by zero in size ${printSize(s)}`);
      return Math.floor(sizeEval(s.num, sizes) / d);
    }
    case 'sum':
      return s.terms.reduce((acc, t) => acc + sizeEval(t, sizes), 0);
    default:
      return assertNever(s);
  }
}

/** Value with defaults only, or undefined when some size has no default. */
export function sizeTryEval(s: SizeExpr, sizes: ReadonlyMap<string, number>): number | undefined {
  try {
    return sizeEval(s, sizes);
  } catch {
    return undefined;
  }
}

export function sizeNames(s: SizeExpr): string[] {
  switch (s.kind) {
    case 'poly':
      return polySizes(s.poly);
    case 'div':
      return [...sizeNames(s.num), ...sizeNames(s.den)];
    case 'sum':
      return s.terms.flatMap(sizeNames);
    default:
      return assertNever(s);
  }
}

const isAtomicPoly = (p: Poly): boolean => p.size <= 1 && ([...p.values()][0] ?? 0) >= 0 && (p.size === 0 || [...p.keys()][0] === '' || [...p.values()][0] === 1);

export function printSize(s: SizeExpr): string {
  switch (s.kind) {
    case 'poly':
      return printPoly(s.poly);
    case 'div': {
      const n = printSize(s.num);
      const d = printSize(s.den);
      const nAtomic = s.num.kind === 'poly' && isAtomicPoly(s.num.poly);
      const dAtomic = s.den.kind === 'poly' && isAtomicPoly(s.den.poly);
      return `${nAtomic ? n : `(${n})`}/${dAtomic ? d : `(${d})`}`;
    }
    case 'sum': {
      let out = '';
      for (const t of s.terms) {
        const txt = printSize(t);
        out += out === '' || txt.startsWith('-') ? txt : `+${txt}`;
      }
      return out;
    }
    default:
      return assertNever(s);
  }
}

/** Keys of sizes already keyed: a size (an extent, a dimension) is shared by every index over it,
 *  and hashing and comparing expressions asks for its key at each. */
const SIZE_KEYS = new WeakMap<SizeExpr, string>();
export function sizeKey(s: SizeExpr): string {
  let key = SIZE_KEYS.get(s);
  if (key === undefined) SIZE_KEYS.set(s, (key = printSize(s)));
  return key;
}
export const sizeEquals = (a: SizeExpr, b: SizeExpr): boolean => a === b || sizeKey(a) === sizeKey(b);
