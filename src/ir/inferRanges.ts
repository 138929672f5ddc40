// inferRanges: every index of a statement gets an extent — its explicit range, the dimension of a
// tensor it subscripts alone, the left tensor's dimension, or, for an undeclared output, the largest
// range in which every read stays in bounds (allowing at the far end the padding the near end reads).
//
// Worked example: Y[n,f,u,v] = K[f,c,i,j]*X[n,c,u*T+i-P,v*T+j-P] with Y undeclared: c, i, j, n, f
// take K's and X's dimensions, and u the largest range with 0 ≤ u*T+i-P < H + P for every i < R,
// which is (H+2*P-R)/T+1 — the convolution's output size.
import { idxAsVar, idxCoef } from './affine.js';
import type { ProgramScope, Use } from './checkTypes.js';
import { fail, type Span } from './errors.js';
import type { Line } from './parse.js';
import { POLY_ZERO, polyAdd, polyConstValue, polyIsPositive, polyScale, polySub, printSize, sizeAdd, sizeConst, sizeDiv, sizeEquals, sizeMul, sizeName, sizePoly, sizeSub, sizeTryEval } from './sizes.js';
import type { IndexExpr, Poly, SizeExpr } from './types.js';

/** What inference needs of the statement being checked. */
export interface RangeContext {
  readonly c: ProgramScope;
  readonly name: string;
  readonly lhs: readonly string[];
  readonly line: Extract<Line, { k: 'assign' }>;
  readonly uses: readonly Use[];
  readonly usesOf: ReadonlyMap<string, readonly Use[]>;
  readonly indexNames: ReadonlySet<string>;
  readonly boundNames: ReadonlySet<string>;
  readonly boundRanges: ReadonlyMap<string, SizeExpr>;
  readonly firstSpan: ReadonlyMap<string, Span>;
  /** the left side's shape, for a statement written in matrix notation */
  readonly lhsShape?: readonly SizeExpr[];
  /** a scatter-add: lhs are loop indices, whose ranges come from the reads (T's own among them) */
  readonly scatter?: boolean;
  /** reads of a matrix function's value, inv(A)[i,j]: a plain index there runs over the matrix */
  readonly matrixReads: readonly { readonly subs: readonly IndexExpr[]; readonly extent: SizeExpr; readonly what: string; readonly span: Span }[];
}

const REDUCTION_RANGE = 'its range in the reduction';

/** Every index gets an extent: explicit range, declared dimension, or inference from accesses. An
 *  explicit reduction range may be shorter than a dimension it subscripts (a sub-range), not longer. */
export function inferRanges(ctx: RangeContext): Map<string, SizeExpr> {
  const ext = new Map<string, SizeExpr>(ctx.boundRanges);
  const from = new Map<string, string>([...ctx.boundRanges.keys()].map((n) => [n, REDUCTION_RANGE] as const)); // where the extent came from, for error messages
  const defaults = ctx.c.defaultsMap();
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
    // a reduction over a sub-range of a dimension, sum(x:3) C[x] with C: [4], keeps its own range
    if (ctx.boundRanges.has(n) && from.get(n) === REDUCTION_RANGE && a !== undefined && b !== undefined && a <= b) return;
    fail('shape-mismatch', `index ${n} runs over ${printSize(prev)} (${from.get(n)}) but over ${printSize(e)} in ${where}`, span, `make the two dimensions the same size, or use different index names`);
  };
  const decl = ctx.scatter ? undefined : (ctx.c.declared.get(ctx.name) ?? (ctx.lhsShape ? { shape: ctx.lhsShape } : undefined));
  if (decl) ctx.lhs.forEach((n, i) => agree(n, decl.shape[i]!, `${ctx.name} dimension ${i + 1}`, ctx.line.span));
  const plainUses = (known: boolean, of?: string) => {
    for (const u of of === undefined ? ctx.uses : ctx.usesOf.get(of)!) {
      const shape = ctx.c.shapes.get(u.tensor);
      if (!shape || (shape.length === 0 && u.subs.length)) continue;
      if (!known) continue;
      u.subs.forEach((s, d) => {
        const v = idxAsVar(s);
        // a left-side index of a declared tensor runs over the declared dimension; read alone on a
        // dimension of another extent it is a zero-padded read (dW[a,…] = … Y1[a-2,a] … in a gradient)
        if (v !== undefined && decl && ctx.lhs.includes(v)) return;
        if (v !== undefined && shape[d]) agree(v, shape[d]!, `${u.tensor} dimension ${d + 1}`, u.span);
      });
    }
  };
  plainUses(true);
  for (const r of ctx.matrixReads)
    r.subs.forEach((s, d) => {
      const v = idxAsVar(s);
      if (v !== undefined && !(decl && ctx.lhs.includes(v))) agree(v, r.extent, `${r.what} dimension ${d + 1}`, r.span);
    });
  // Undeclared tensors with plain subscripts get their shape from the index ranges (new sizes where unknown).
  for (const u of ctx.uses) {
    if (ctx.c.shapes.has(u.tensor)) continue;
    // any read of it with plain subscripts gives the shape: X[i+1] + X[i] as well as X[i] + X[i+1]
    const plain = ctx.usesOf.get(u.tensor)!.find((w) => w.subs.every((s) => idxAsVar(s) !== undefined));
    if (!plain)
      fail('unknown-shape', `the shape of ${u.tensor} cannot be known from its subscripts`, u.span, `declare it, e.g. \`${u.tensor}: [${u.subs.map((_, i) => 'NCHW'[i] ?? `D${i}`).join(', ')}]\``);
    const vars = plain!.subs.map(idxAsVar);
    const shape = vars.map((v) => {
      if (!ext.has(v!)) {
        const size = ctx.c.freshSize(v!.toUpperCase());
        ext.set(v!, sizeName(size));
        from.set(v!, `${u.tensor}, whose shape is inferred`);
      }
      return ext.get(v!)!;
    });
    ctx.c.shapes.set(u.tensor, shape);
    plainUses(true, u.tensor);
  }
  // Left-side indices of an undeclared output not fixed by a plain use: the largest in-bounds range.
  for (const n of ctx.lhs) {
    if (ext.has(n)) continue;
    const inferred = inferFromCompound(ctx, n, ext);
    if (!inferred)
      fail('unknown-range', `cannot infer the range of index ${n}`, ctx.firstSpan.get(n) ?? ctx.line.span, `declare ${ctx.name} with its shape, e.g. \`${ctx.name}: [${ctx.lhs.map((x) => x.toUpperCase()).join(', ')}]\`, or use ${n} alone as a subscript of a declared tensor`);
    ext.set(n, inferred!);
  }
  for (const n of ctx.boundNames) {
    if (ext.has(n)) continue;
    const inferred = inferFromCompound(ctx, n, ext);
    if (inferred) {
      ext.set(n, inferred);
      continue;
    }
    fail('unknown-range', `cannot infer the range of index ${n}`, ctx.firstSpan.get(n) ?? ctx.line.span, `give it a range, e.g. sum(${n}:4) …, or use ${n} alone as a subscript of a declared tensor`);
  }
  for (const n of ctx.indexNames) {
    if (!ext.has(n) && (ctx.lhs.includes(n) || ctx.boundNames.has(n))) continue;
    if (!ext.has(n) && ctx.firstSpan.has(n))
      fail('unknown-range', `index ${n} is neither on the left side nor summed`, ctx.firstSpan.get(n)!, `put ${n} on the left side, or sum over it`);
  }
  return ext;
}

/** From an access T[c*n + rest] with known dimension D: n < (D - 1 + pad - max(rest))/c + 1 (pad = -min(rest), symmetric padding). */
function inferFromCompound(ctx: RangeContext, n: string, ext: ReadonlyMap<string, SizeExpr>): SizeExpr | undefined {
  const found = compoundCandidates(ctx, n, ext);
  if (found.length <= 1) return found[0];
  // every access must stay in bounds: the smallest candidate (comparable when they differ by a constant)
  const defaults = ctx.c.defaultsMap();
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

function compoundCandidates(ctx: RangeContext, n: string, ext: ReadonlyMap<string, SizeExpr>): SizeExpr[] {
  const out: SizeExpr[] = [];
  for (const u of ctx.uses) {
    const shape = ctx.c.shapes.get(u.tensor);
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

/** How far a read reaches past the end of its dimension: p when it is positive, else nothing. */
function paddingOf(p: Poly): Poly {
  const v = polyConstValue(p);
  return (v !== undefined ? v > 0 : polyIsPositive(p)) ? p : POLY_ZERO;
}

function mulPoly(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>) {
  const s = sizeMul(sizePoly(a), sizePoly(b));
  return s.kind === 'poly' ? s.poly : POLY_ZERO;
}
