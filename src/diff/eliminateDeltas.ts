// eliminateDeltas: solve the index equations δ(a, b) of one gradient term and collapse its sums.
//
// Worked example (strided, padded conv, dX): the term
//   Σ_{n,f,u,v,c,i,j} K[f,c,i,j]·dY[n,f,u,v]·δ(n,n')·δ(c,c')·δ(u*T+i-P, h')·δ(v*T+j-P, w')
// has unit-coefficient solutions n := n', c := c', i := h'+P-u*T, j := w'+P-v*T (i is preferred over
// u, whose coefficient is T). Each substitution removes one sum; the bound 0 ≤ i < R becomes a
// guard, dropped here because K[f,c,h'+P-u*T,…] already reads 0 outside [0, R). Result:
//   Σ_{f,u,v} K[f,c',h'+P-u*T,w'+P-v*T]·dY[n',f,u,v]
// Rule order: mixed radix (s·u + i with 0 ≤ i < s: u := e/s, i := e%s, as in pooling; a flatten's
// 49·f + 7·u + v = f2 all at once: f := f2/49, u := (f2%49)/7, v := f2%7) → unit coefficient on a
// summed-over index → unit on a forward output index (but when every index with a unit coefficient
// has a numeric extent, the widest is solved for, whichever kind: a stride-1 conv's dX then sums
// over the 3×3 taps, not the 14×14 outputs) → divisibility (v := e/s when
// s | e, guarded) → a quotient of a summed index (⌊u/s⌋ = t: u := s·t + k, with a new sum over
// 0 ≤ k < s, as in the gradient of nearest upsampling: dX[h] = sum(k:2) dY[2h+k]) → a remainder of a
// summed index ((u+r) mod s = 0: u := s·q − r for a new q, its range that of a read at ⌊(u+r)/s⌋ = q, as
// in the transposed convolution's dK = sum(n,h,w) X[n,c,h,w]·dY[n,f,h*T+i-P,…], not every u under a
// guard) → no summed index left: an equality guard, or 0 when it can never hold.
import { idxAdd, idxAsConst, idxAsVar, idxCoef, idxDiv, idxKey, idxMod, idxNeg, idxScale, idxSub, idxVars, printIndex } from '../ir/affine.js';
import { access, compare, mapIndices, mul, num, reduce, substituteIndex, ZERO } from '../ir/exprs.js';
import { printExpr } from '../ir/print.js';
import { POLY_ONE, polyConstValue, polyMul, polyEquals, polyIsPositive, polyIsZero, polyScale, printPoly, printSize, sizeEquals, sizeNames, sizeTryEval, polyEval } from '../ir/sizes.js';
import { type Bound, type Expr, type IndexExpr, type Poly, type SizeExpr } from '../ir/types.js';

export interface Delta {
  readonly a: IndexExpr;
  readonly b: IndexExpr;
}

export type Guard =
  | { readonly kind: 'range'; readonly expr: IndexExpr; readonly extent: SizeExpr; readonly of: string }
  | { readonly kind: 'divides'; readonly expr: IndexExpr; readonly by: Poly }
  | { readonly kind: 'equal'; readonly a: IndexExpr; readonly b: IndexExpr };

/** Σ_{sums} factor · Π δ — one additive piece of a gradient before elimination. */
export interface Term {
  readonly sums: readonly Bound[];
  readonly factor: Expr;
  readonly deltas: readonly Delta[];
}

export interface EliminationContext {
  /** forward output indices: solved for only when no summed-over index has a unit coefficient */
  readonly forwardLhs: ReadonlySet<string>;
  /** gradient positions and the extent each runs over */
  readonly positions: readonly Bound[];
  readonly shapeOf: (tensor: string) => readonly SizeExpr[] | undefined;
  readonly defaults: ReadonlyMap<string, number>;
  /** a new index name, unused in the program (a window offset when a quotient is solved) */
  readonly fresh?: (base: string) => string;
}

export interface Eliminated {
  readonly expr: Expr;
  readonly steps: string[];
}

interface Choice {
  readonly rank: number;
  readonly delta: number;
  /** within one δ and rank, the smaller first: minus the extent of the index solved for */
  readonly size: number;
  readonly apply: () => string;
}

const signKnown = (p: Poly): boolean => [...p.values()].every((v) => v > 0) || [...p.values()].every((v) => v < 0);

const isUnit = (p: Poly): 1 | -1 | undefined => {
  const v = polyConstValue(p);
  return v === 1 || v === -1 ? v : undefined;
};

/** Solve every δ of the term; null when the term is identically zero. */
export function eliminateDeltas(term: Term, ctx: EliminationContext): Eliminated | null {
  let sums = [...term.sums];
  // an equality of two indices among the factors, (i == j) from eye(N) or diag(x), is a δ too
  const split = indexEqualities(term.factor);
  let factor = split.rest;
  // the δ of the chain rule first, then the equalities: (o == g*Fg + f) of an affine left side is
  // then solved for o once g and f are fixed, not for g and f
  let deltas = [...term.deltas];
  let pending = [...split.deltas];
  /** the chain rule's δ are solved; these are the equalities among the factors */
  let equalities = false;
  let guards: Guard[] = [];
  const steps: string[] = [];
  for (const d of split.deltas) steps.push(`the factor (${printIndex(d.a)} == ${printIndex(d.b)}) is δ(${printIndex(d.a)},${printIndex(d.b)})`);
  const extentOf = (n: string) => sums.find((b) => b.name === n)!.extent;

  const substitute = (name: string, by: IndexExpr) => {
    factor = substituteIndex(factor, name, by);
    deltas = deltas.map((d) => ({ a: substituteIndexExpr(d.a, name, by), b: substituteIndexExpr(d.b, name, by) }));
    pending = pending.map((d) => ({ a: substituteIndexExpr(d.a, name, by), b: substituteIndexExpr(d.b, name, by) }));
    guards = guards.map((g) =>
      g.kind === 'range'
        ? { ...g, expr: substituteIndexExpr(g.expr, name, by) }
        : g.kind === 'divides'
          ? { ...g, expr: substituteIndexExpr(g.expr, name, by) }
          : { ...g, a: substituteIndexExpr(g.a, name, by), b: substituteIndexExpr(g.b, name, by) },
    );
    sums = sums.filter((b) => b.name !== name);
  };

  const substituteSolved = (solved: Solved) => {
    factor = mapIndices(factor, (x) => solveQuotient(x, solved));
    deltas = deltas.map((x) => ({ a: solveQuotient(x.a, solved), b: solveQuotient(x.b, solved) }));
    pending = pending.map((x) => ({ a: solveQuotient(x.a, solved), b: solveQuotient(x.b, solved) }));
    guards = guards.map((g) => (g.kind === 'equal' ? { ...g, a: solveQuotient(g.a, solved), b: solveQuotient(g.b, solved) } : { ...g, expr: solveQuotient(g.expr, solved) }));
  };

  /** (±u + r) mod τ = ρ: u = ±(τ·q + ρ − r) for a new q, over the extent of a read at ⌊(±u + r)/τ⌋ = q. */
  const remainderSolution = (rem: Remainder, q: string): Solved => ({ ...rem, whole: valueOf(rem, varOf(q), rem.residue), quotient: varOf(q), remainder: rem.residue });

  const solveRemainderDelta = (d: Delta, rem: Remainder, { extent, tensor }: { extent: SizeExpr; tensor: string }): string => {
    const names = sizeNames(extent);
    const q = ctx.fresh!(names.length === 1 ? names[0]!.toLowerCase() : 'i');
    const uExt = extentOf(rem.u);
    const solved = remainderSolution(rem, q);
    substituteSolved(solved);
    sums = [...sums.filter((b) => b.name !== rem.u), { name: q, extent }];
    guards.push({ kind: 'range', expr: solved.whole, extent: uExt, of: rem.u });
    // a remainder outside [0, τ) never equals ρ: the term holds only where it is in range
    if (!rem.known) guards.push({ kind: 'range', expr: rem.residue, extent: { kind: 'poly', poly: rem.by }, of: `${printIndex(rem.of)} % ${printPoly(rem.by)}` });
    const residue = printIndex(rem.residue);
    return `δ(${printIndex(d.a)},${printIndex(d.b)}): (${printIndex(rem.of)}) % ${printPoly(rem.by)} = ${residue} holds for ${rem.u} = ${printIndex(solved.whole)} with ${q} whole, and ${tensor} reads 0 unless 0 ≤ ${q} < ${printSize(extent)}: the sum over ${rem.u} becomes a sum over ${q}, one ${rem.u} in every ${printPoly(rem.by)} and no guard`;
  };

  const solveQuotientDelta = (d: Delta, quotient: Quotient): string => {
    const { u, by, target, of } = quotient;
    const k = ctx.fresh!('i');
    const uExt = extentOf(u);
    const solved: Solved = { u, by, of, whole: valueOf(quotient, target, varOf(k)), quotient: target, remainder: varOf(k) };
    substituteSolved(solved);
    const whole = solved.whole;
    sums = [...sums.filter((b) => b.name !== u), { name: k, extent: { kind: 'poly', poly: by } }];
    guards.push({ kind: 'range', expr: whole, extent: uExt, of: u });
    const head = `δ(${printIndex(d.a)},${printIndex(d.b)}): `;
    const tail = `with 0 ≤ ${k} < ${printPoly(by)}`;
    if (idxAsVar(of) === u) return `${head}${u}/${printPoly(by)} = ${printIndex(target)} holds for ${u} = ${printIndex(whole)} ${tail}; the sum over ${u} becomes a sum over ${k}`;
    const dividend = printIndex(of);
    return `${head}(${dividend})/${printPoly(by)} = ${printIndex(target)} holds for ${dividend} = ${printIndex(idxAdd(idxScale(target, by), varOf(k)))} ${tail}, that is for ${u} = ${printIndex(whole)}; the sum over ${u} becomes a sum over ${k}`;
  };

  /** δ(d) by a mixed radix: Σ c_m·u_m = rest with u_0 = rest/c_0, u_m = (rest % c_{m−1})/c_m, the last
   *  rest % c_{k−1}; each lower place is in range by construction, so only u_0 keeps a range guard. */
  const solveRadix = (d: Delta, norm: IndexExpr, chain: RadixChain): string => {
    const { names, coefs } = chain;
    const rest = idxNeg(names.reduce((x, n, m) => idxSub(x, idxScale(varOf(n), coefs[m]!)), norm));
    const values = names.map((_, m) => {
      const below = m === 0 ? rest : idxMod(rest, coefs[m - 1]!);
      return m === names.length - 1 ? below : idxDiv(below, coefs[m]!);
    });
    const topExt = extentOf(names[0]!);
    names.forEach((n, m) => substitute(n, values[m]!));
    guards.push({ kind: 'range', expr: values[0]!, extent: topExt, of: names[0]! });
    const place = names.map((n, m) => (m === names.length - 1 ? n : `${n}·${printPoly(coefs[m]!)}`)).join(' + ');
    const solved = names.map((n, m) => `${n} = ${printIndex(values[m]!)}`).join(', ');
    const last = names.at(-1)!;
    const sums = `${names.slice(0, -1).join(', ')} and ${last}`;
    const radix = names.length > 2 ? ' (a mixed radix)' : '';
    return `δ(${printIndex(d.a)},${printIndex(d.b)}): ${place} = ${printIndex(rest)} with 0 ≤ ${last} < ${printPoly(coefs.at(-2)!)}${radix} has the single solution ${solved}; the sums over ${sums} collapse`;
  };

  while (deltas.length || pending.length) {
    if (!deltas.length) [deltas, pending, equalities] = [pending, [], true];
    const choices: Choice[] = [];
    let zero = false;
    let settled = -1;
    /** a δ with nothing to solve for yet: a guard, unless solving another one gives it a summed index */
    let stuck = -1;
    deltas.forEach((d, di) => {
      if (settled >= 0 || zero) return;
      const e = idxSub(d.a, d.b);
      // a coefficient of unknown sign (D-1: zero when D = 1) cannot be divided by; that δ stays a guard
      const vars = sums.map((b) => b.name).filter((n) => {
        const c = idxCoef(e, n);
        return c !== undefined && c !== 'nested' && signKnown(c);
      });
      if (vars.length === 0) {
        const quotient = ctx.fresh ? quotientOfSum(e, sums, ctx.forwardLhs) : undefined;
        if (quotient) {
          // ⌊u/τ⌋ = t holds for the τ values u = τ·t + k, 0 ≤ k < τ: the sum over u becomes one over
          // k. Last in rank: when another δ fixes u outright, this one is left a plain guard.
          choices.push({ rank: 5, delta: di, size: 0, apply: () => solveQuotientDelta(d, quotient) });
          return;
        }
        const rem = ctx.fresh ? remainderOfSum(e, sums) : undefined;
        // (±u + r) mod τ = ρ holds for every τ-th u: the sum over u becomes one over the quotient q, a
        // dense gather instead of every u under a guard — when a read at q bounds q (0 outside it)
        const extent = rem && extentFromRead(PROBE, mapIndices(factor, (x) => solveQuotient(x, remainderSolution(rem, PROBE))), ctx.shapeOf);
        if (rem && extent) {
          choices.push({ rank: 6, delta: di, size: 0, apply: () => solveRemainderDelta(d, rem, extent) });
          return;
        }
        const c = idxAsConst(e);
        const v = c && polyConstValue(c);
        if (c && v === 0) steps.push(`δ(${printIndex(d.a)},${printIndex(d.b)}) = 1`);
        else if (c && v !== undefined) {
          steps.push(`δ(${printIndex(d.a)},${printIndex(d.b)}) = 0: the indices can never be equal, so this term vanishes`);
          zero = true;
        } else {
          if (stuck < 0) stuck = di;
          return;
        }
        settled = di;
        return;
      }
      const coef = (n: string) => idxCoef(e, n) as Poly;
      // mixed radix: c_0·u_0 + … + c_{k-1}·u_{k-1} + i + rest = 0 with 0 ≤ i < s, each c_m the product of
      // the extents after it (f·49 + u·7 + v): all of them at once, u_0 = rest/c_0, …, i = rest % c_{k-1}
      for (const i of vars) {
        const ui = isUnit(coef(i));
        if (!ui) continue;
        const norm = ui === 1 ? e : idxNeg(e);
        for (const chain of radixChains(norm, i, vars, extentOf)) {
          choices.push({ rank: 0, delta: di, size: 0, apply: () => solveRadix(d, norm, chain) });
        }
      }
      // a δ with unit coefficients on several summed indices of numeric extent (u + i = p of a
      // stride-1 conv) is solved for the widest, so the sum left runs over the narrowest (the taps)
      const widest = unitExtents(vars.filter((v) => isUnit(coef(v))), extentOf);
      for (const v of vars) {
        const c = coef(v);
        const unit = isUnit(c);
        // (o == g*Fg+f) of an affine left side, g fixed: solving for o collapses its sum over all G·Fg
        // channels, while solving for f would leave o summed over every group's (G× the work)
        const wholeSide = equalities && unit && ctx.forwardLhs.has(v) && [d.a, d.b].some((x) => idxAsVar(x) === v) && [d.a, d.b].some((x) => x.terms.length > 1);
        const rank = wholeSide ? 0.5 : unit && widest ? 1 : unit ? (ctx.forwardLhs.has(v) ? 2 : 1) : polyConstValue(c) !== undefined ? 3 : 4;
        choices.push({
          rank,
          delta: di,
          size: !wholeSide && unit && widest ? -widest.get(v)! : 0,
          apply: () => {
            const rest = idxSub(e, idxScale(varOf(v), c));
            const vExt = extentOf(v);
            if (unit) {
              const q = unit === 1 ? idxNeg(rest) : rest;
              substitute(v, q);
              guards.push({ kind: 'range', expr: q, extent: vExt, of: v });
              return `δ(${printIndex(d.a)},${printIndex(d.b)}): ${v} = ${printIndex(q)}; the sum over ${v} collapses`;
            }
            // c·v = -rest: v exists only when c divides -rest
            const target = idxNeg(rest);
            // divide by a positive divisor: -2 and -B*B flip the sign of both sides
            const negative = [...c.values()].every((x) => x < 0);
            const [numer, by] = negative ? [idxNeg(target), polyScale(c, -1)] : [target, c];
            const q = idxDiv(numer, by);
            const exact = idxKey(idxScale(q, by)) === idxKey(numer);
            if (!exact) {
              // every coefficient a multiple of the divisor: the remainder is the constant's, known now
              const div = polyConstValue(by);
              const k = polyConstValue(numer.constant);
              const fixed = div !== undefined && k !== undefined && numer.terms.every((t) => polyConstValue(t.coef) !== undefined && polyConstValue(t.coef)! % div === 0);
              const m = idxMod(numer, by);
              const mc = idxAsConst(m);
              if ((fixed && ((k! % div!) + div!) % div! !== 0) || (mc && polyConstValue(mc) !== undefined && polyConstValue(mc) !== 0)) {
                zero = true;
                return `δ(${printIndex(d.a)},${printIndex(d.b)}): ${printPoly(by)}·${v} = ${printIndex(numer)} has no whole solution, so this term vanishes`;
              }
              guards.push({ kind: 'divides', expr: numer, by });
            }
            substitute(v, q);
            guards.push({ kind: 'range', expr: q, extent: vExt, of: v });
            return `δ(${printIndex(d.a)},${printIndex(d.b)}): ${v} = ${printIndex(q)}${exact ? '' : `, only where ${printPoly(by)} divides ${printIndex(numer)}`}; the sum over ${v} collapses`;
          },
        });
      }
    });
    if (zero) return null;
    if (settled < 0 && choices.length === 0 && stuck >= 0) {
      const d = deltas[stuck]!;
      guards.push({ kind: 'equal', a: d.a, b: d.b });
      steps.push(`δ(${printIndex(d.a)},${printIndex(d.b)}) has no summed index to solve for: it stays as the guard (${printIndex(d.a)} == ${printIndex(d.b)})`);
      settled = stuck;
    }
    if (settled >= 0) {
      deltas.splice(settled, 1);
      continue;
    }
    choices.sort((x, y) => x.rank - y.rank || x.delta - y.delta || x.size - y.size);
    const best = choices[0]!;
    deltas.splice(best.delta, 1);
    steps.push(best.apply());
    if (zero) return null;
  }

  // Guards: drop those implied by zero-padded reads, evaluate constant ones, keep the rest.
  const guardExprs: Expr[] = [];
  for (const g of guards) {
    switch (g.kind) {
      case 'range': {
        const implied = impliedByRead(g.expr, g.extent, factor, { ...ctx, positions: [...ctx.positions, ...sums] });
        const c = idxAsConst(g.expr);
        const cv = c && polyConstValue(c);
        const ev = sizeTryEval(g.extent, ctx.defaults);
        if (cv !== undefined && cv !== null && ev !== undefined) {
          if (cv < 0 || cv >= ev) {
            steps.push(`${g.of} = ${printIndex(g.expr)} is outside [0, ${printSize(g.extent)}): this term vanishes`);
            return null;
          }
          break;
        }
        if (implied) {
          steps.push(`bound 0 ≤ ${printIndex(g.expr)} < ${printSize(g.extent)} (the range of ${g.of}) needs no guard: ${implied}`);
          break;
        }
        const nonNegative = g.expr.terms.every((t) => polyConstValue(t.coef) !== undefined && polyConstValue(t.coef)! > 0 && t.atom.kind !== 'div') && (polyConstValue(g.expr.constant) ?? -1) >= 0;
        if (!nonNegative) guardExprs.push(compare('>=', { kind: 'index', expr: g.expr }, ZERO));
        guardExprs.push(compare('<', { kind: 'index', expr: g.expr }, { kind: 'sizeval', size: g.extent }));
        steps.push(`bound 0 ≤ ${printIndex(g.expr)} < ${printSize(g.extent)} (the range of ${g.of}) becomes a guard`);
        break;
      }
      case 'divides':
        guardExprs.push(compare('==', { kind: 'index', expr: idxMod(g.expr, g.by) }, ZERO));
        break;
      case 'equal':
        guardExprs.push(compare('==', { kind: 'index', expr: g.a }, { kind: 'index', expr: g.b }));
        break;
    }
  }
  return { expr: reduce('sum', sums, mul([...guardExprs, factor])), steps };
}

/** Summed indices u_0 … u_{k−1}, i whose coefficients form a mixed radix, outermost first; i last, coefficient 1. */
interface RadixChain {
  readonly names: readonly string[];
  readonly coefs: readonly Poly[];
}

/** The chains ending at i (coefficient 1 in e): u with coefficient extent(i), then w with coefficient
 *  extent(i)·extent(u), and so on while a summed index has the next place value. One per first u. */
function radixChains(e: IndexExpr, i: string, vars: readonly string[], extentOf: (n: string) => SizeExpr): RadixChain[] {
  const ext = extentOf(i);
  if (ext.kind !== 'poly') return [];
  const coefOf = (n: string) => idxCoef(e, n) as Poly;
  const chains: RadixChain[] = [];
  for (const u of vars) {
    if (u === i || isUnit(coefOf(u)) || !polyEquals(coefOf(u), ext.poly)) continue;
    const names = [u, i];
    const coefs = [coefOf(u), POLY_ONE];
    for (;;) {
      const top = extentOf(names[0]!);
      if (top.kind !== 'poly') break;
      const place = polyMul(coefs[0]!, top.poly);
      const w = vars.find((n) => !names.includes(n) && polyEquals(coefOf(n), place));
      if (!w) break;
      names.unshift(w);
      coefs.unshift(place);
    }
    chains.push({ names, coefs });
  }
  return chains;
}

/** The numeric extent of each index when there are two or more and every one is a number; else undefined. */
function unitExtents(names: readonly string[], extentOf: (n: string) => SizeExpr): Map<string, number> | undefined {
  if (names.length < 2) return undefined;
  const out = new Map<string, number>();
  for (const n of names) {
    const x = extentOf(n);
    const v = x.kind === 'poly' ? polyConstValue(x.poly) : undefined;
    if (v === undefined) return undefined;
    out.set(n, v);
  }
  return out;
}

/** An integer-valued expression of indices, sizes and whole numbers as an index expression
 *  (g*Fg + f, from an affine left side); undefined for anything else. */
function asIndex(e: Expr): IndexExpr | undefined {
  switch (e.kind) {
    case 'index':
      return e.expr;
    case 'num':
      return Number.isInteger(e.value) ? { terms: [], constant: e.value === 0 ? new Map() : new Map([['', e.value]]) } : undefined;
    case 'sizeval':
      return e.size.kind === 'poly' ? { terms: [], constant: e.size.poly } : undefined;
    case 'neg': {
      const a = asIndex(e.arg);
      return a && idxNeg(a);
    }
    case 'add': {
      const ts = e.terms.map(asIndex);
      return ts.every((t) => t) ? (ts as IndexExpr[]).reduce(idxAdd) : undefined;
    }
    case 'mul': {
      const fs = e.factors.map(asIndex);
      if (!fs.every((f) => f)) return undefined;
      // at most one factor with an index: the others are its coefficient
      const withIndex = (fs as IndexExpr[]).filter((f) => f.terms.length > 0);
      if (withIndex.length > 1) return undefined;
      const coef = (fs as IndexExpr[]).filter((f) => f.terms.length === 0).reduce((k, f) => polyMul(k, f.constant), POLY_ONE);
      return withIndex.length ? idxScale(withIndex[0]!, coef) : { terms: [], constant: coef };
    }
    default:
      return undefined;
  }
}

/** The factors (i == j) of a product that compare two index values, as δ(i, j), and the rest. */
function indexEqualities(e: Expr): { deltas: Delta[]; rest: Expr } {
  const factors = e.kind === 'mul' ? e.factors : [e];
  const eqOf = (f: Expr): Delta | undefined => {
    if (f.kind !== 'compare' || f.op !== '==') return undefined;
    const [a, b] = [asIndex(f.a), asIndex(f.b)];
    return a && b && (f.a.kind === 'index' || f.b.kind === 'index') ? { a, b } : undefined;
  };
  const eqs = factors.map(eqOf);
  if (eqs.every((d) => !d)) return { deltas: [], rest: e };
  return { deltas: eqs.filter((d): d is Delta => d !== undefined), rest: mul(factors.filter((_, i) => !eqs[i])) };
}

/** ⌊(±u + r)/τ⌋ = target, with u summed and found nowhere else: the δ a quotient leaves. */
interface Quotient {
  readonly u: string;
  readonly by: Poly;
  readonly target: IndexExpr;
  /** the dividend ±u + r */
  readonly of: IndexExpr;
}

/** e = ±⌊(±u + r)/τ⌋ + rest with u summed (unit coefficient), τ a positive size and u nowhere else
 *  in e. An index of the forward's output is taken first (the transposed convolution's y in
 *  ⌊(y+P−i)/T⌋: dY is then read at T·h + i − P, a strided convolution); then the order of the sums. */
function quotientOfSum(e: IndexExpr, sums: readonly Bound[], forwardLhs: ReadonlySet<string>): Quotient | undefined {
  const found: Quotient[] = [];
  for (const t of e.terms) {
    const sign = isUnit(t.coef);
    if (t.atom.kind !== 'div' || !sign || !polyIsPositive(t.atom.by)) continue;
    const rest = { terms: e.terms.filter((x) => x !== t), constant: e.constant };
    const of = t.atom.of;
    for (const b of sums) {
      const c = idxCoef(of, b.name);
      if (c === undefined || c === 'nested' || !isUnit(c) || idxVars(rest).includes(b.name)) continue;
      found.push({ u: b.name, by: t.atom.by, target: sign === 1 ? idxNeg(rest) : rest, of });
    }
  }
  return found.find((q) => forwardLhs.has(q.u)) ?? found[0];
}

/** A dividend solved: ⌊of/τ⌋ = quotient and of mod τ = remainder, so u = whole. */
interface Solved {
  readonly u: string;
  readonly by: Poly;
  readonly of: IndexExpr;
  readonly whole: IndexExpr;
  readonly quotient: IndexExpr;
  readonly remainder: IndexExpr;
}

/** u's value once of = τ·quotient + remainder, of = c·u + r with c = ±1: u = c·(τ·quotient + remainder − r). */
function valueOf(s: { u: string; by: Poly; of: IndexExpr }, quotient: IndexExpr, remainder: IndexExpr): IndexExpr {
  const c = idxCoef(s.of, s.u) as Poly;
  const r = idxSub(s.of, idxScale(varOf(s.u), c));
  const v = idxSub(idxAdd(idxScale(quotient, s.by), remainder), r);
  return isUnit(c) === 1 ? v : idxNeg(v);
}

/** With the dividend solved: ⌊of/τ⌋ → quotient, of mod τ → remainder, and u elsewhere → its value. */
function solveQuotient(x: IndexExpr, s: Solved): IndexExpr {
  const key = idxKey(s.of);
  let out: IndexExpr = { terms: [], constant: x.constant };
  for (const t of x.terms) {
    const a = t.atom;
    // a quotient or remainder of the dividend (a data read has neither)
    const exact = (a.kind === 'div' || a.kind === 'mod') && idxKey(a.of) === key && polyEquals(a.by, s.by);
    const piece: IndexExpr = exact ? (a.kind === 'div' ? s.quotient : s.remainder) : substituteIndexExpr({ terms: [{ atom: a, coef: POLY_ONE }], constant: new Map() }, s.u, s.whole);
    out = idxAdd(out, idxScale(piece, t.coef));
  }
  return out;
}

/** (±u + r) mod τ = ρ with u summed (unit coefficient) and u nowhere else in e: the δ a
 *  fractionally strided read leaves (ρ = 0), or a per-phase weight's (W[y%2]: ρ a gradient position). */
interface Remainder {
  readonly u: string;
  readonly by: Poly;
  readonly of: IndexExpr;
  readonly residue: IndexExpr;
  /** 0 ≤ ρ < τ is known (ρ = 0, or a number below a numeric τ); else it becomes a range guard */
  readonly known: boolean;
}

function remainderOfSum(e: IndexExpr, sums: readonly Bound[]): Remainder | undefined {
  for (const t of e.terms) {
    const sign = isUnit(t.coef);
    if (t.atom.kind !== 'mod' || !sign || !polyIsPositive(t.atom.by)) continue;
    const rest = { terms: e.terms.filter((x) => x !== t), constant: e.constant };
    const residue = sign === 1 ? idxNeg(rest) : rest;
    const rc = idxAsConst(residue);
    const rv = rc && polyConstValue(rc);
    const tau = polyConstValue(t.atom.by);
    const known = rv === 0 || (rv !== undefined && tau !== undefined && rv > 0 && rv < tau);
    const of = t.atom.of;
    for (const b of sums) {
      const c = idxCoef(of, b.name);
      if (c !== undefined && c !== 'nested' && isUnit(c) && !idxVars(residue).includes(b.name)) return { u: b.name, by: t.atom.by, of, residue, known };
    }
  }
  return undefined;
}

/** The extent of q where a read multiplying the whole term has q as a plain subscript: q's range then. */
function extentFromRead(q: string, factor: Expr, shapeOf: EliminationContext['shapeOf']): { extent: SizeExpr; tensor: string } | undefined {
  for (const f of factor.kind === 'mul' ? factor.factors : [factor]) {
    if (f.kind !== 'access') continue;
    const d = f.subs.findIndex((s) => idxAsVar(s) === q);
    const shape = d >= 0 ? shapeOf(f.tensor) : undefined;
    if (shape?.[d]) return { extent: shape[d], tensor: f.tensor };
  }
  return undefined;
}

/** a name no program has: q's stand-in while checking that a read bounds it */
const PROBE = '#q';

const varOf = (n: string): IndexExpr => ({ terms: [{ atom: { kind: 'var', name: n }, coef: new Map([['', 1]]) }], constant: new Map() });

function substituteIndexExpr(e: IndexExpr, name: string, by: IndexExpr): IndexExpr {
  const ex = substituteIndex({ kind: 'index', expr: e }, name, by);
  return ex.kind === 'index' ? ex.expr : e;
}

/** A read T[…, q, …] that multiplies the whole term, on a dimension of the same extent, makes 0 ≤ q < extent implicit. */
function impliedByRead(q: IndexExpr, extent: SizeExpr, factor: Expr, ctx: EliminationContext): string | undefined {
  const key = idxKey(q);
  const v = idxAsVar(q);
  if (v !== undefined) {
    const pos = ctx.positions.find((p) => p.name === v);
    if (pos && sizeEquals(pos.extent, extent)) return `${v} runs over the same range`;
  }
  const factors = factor.kind === 'mul' ? factor.factors : [factor];
  for (const f of factors) {
    if (f.kind !== 'access') continue;
    const shape = ctx.shapeOf(f.tensor);
    if (!shape) continue;
    for (let d = 0; d < f.subs.length; d++) {
      if (idxKey(f.subs[d]!) !== key || !shape[d]) continue;
      if (sizeEquals(shape[d]!, extent) || sameValue(shape[d]!, extent, ctx.defaults)) return `${printExpr(access(f.tensor, f.subs))} reads 0 outside it`;
    }
  }
  return undefined;
}

function sameValue(a: SizeExpr, b: SizeExpr, defaults: ReadonlyMap<string, number>): boolean {
  const x = sizeTryEval(a, defaults);
  return x !== undefined && x === sizeTryEval(b, defaults) && [a, b].every((s) => s.kind === 'poly' && [...s.poly.keys()].every((k) => k === ''));
}

export { idxVars, num, polyIsZero, polyEval };
