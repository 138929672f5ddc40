// renderCorrelation: the gradients of the whole convolution family — 1-D, 2-D, 3-D, dilated, strided,
// transposed, depthwise, grouped — as one pattern: a sum of products of two tensors whose trailing
// (spatial) subscripts pair each output index o with a summed index s, o·a + s·b + k in one factor and
// s alone in the other. Every such statement is, per slice of its other (channel) indices, a
// correlation with a stride t, a dilation d and a zero padding p (the PyTorch conv parameters):
//   (A ⋆[t, d, p] B)[o] = Σ_k A[t·o + d·k − p]·B[k]   (per spatial axis; out-of-range reads are 0)
//
// Worked example: a dilated convolution's input gradient
//   dX[n,c,h,w] = sum(f,i,j) K[f,c,i,j]*dY[n,f,h-i*D,w-j*D]
// has dY[h − D·i] (a = 1, b = −D: a true convolution, so K is flipped) and K[i] alone; it prints as
//   dX[n,c] = Σ_f dY[n,f] ⋆[d=D, p=D*(R-1)] flip(K[f,c])
// where the bracketed slices are the spatial planes (every trailing axis) and flip reverses them.
import { idxAsVar, idxCoef, idxVars, printIndex } from '../ir/affine.js';
import { polyAdd, polyConst, polyConstValue, polyMul, polyScale, printPoly } from '../ir/sizes.js';
import type { Expr, IndexExpr, Poly, SizeExpr, Statement } from '../ir/types.js';
import { indexLatex, latexName } from './renderLatex.js';

type Access = Extract<Expr, { kind: 'access' }>;
type Shapes = (tensor: string) => readonly SizeExpr[] | undefined;

/** One spatial axis: out[o] = Σ_s M[a·o + b·s + k]·Pl[s]. */
interface Axis {
  readonly o: string;
  readonly s: string;
  readonly a: Poly;
  readonly b: Poly;
  readonly k: Poly;
}

/** The sign of a coefficient: sizes are positive, so D and 2·D are > 0; mixed signs are unknown. */
function sign(p: Poly): 1 | -1 | undefined {
  const vs = [...p.values()];
  if (vs.length === 0) return undefined;
  if (vs.every((v) => v > 0)) return 1;
  if (vs.every((v) => v < 0)) return -1;
  return undefined;
}
const isOne = (p: Poly) => polyConstValue(p) === 1;
const isMinusOne = (p: Poly) => polyConstValue(p) === -1;

/** Σ_{s…} [−] A·B with A, B tensor reads; null for anything else. */
function product(rhs: Expr): { neg: boolean; sums: string[]; A: Access; B: Access } | null {
  let neg = false;
  let x = rhs;
  if (x.kind === 'neg') {
    neg = true;
    x = x.arg;
  }
  const sums: string[] = [];
  while (x.kind === 'reduce' && x.op === 'sum') {
    sums.push(...x.indices.map((b) => b.name));
    x = x.body;
  }
  if (x.kind !== 'mul' || x.factors.length !== 2) return null;
  const [A, B] = x.factors as [Expr, Expr];
  return A.kind === 'access' && B.kind === 'access' ? { neg, sums, A, B } : null;
}

/** The axis of subscript `e` (in the mixed factor) against the plain factor's subscript `plain`. */
function axisOf(e: IndexExpr, plain: IndexExpr, out: readonly string[], sums: readonly string[]): Axis | null {
  const s = idxAsVar(plain);
  const vars = idxVars(e);
  if (!s || !sums.includes(s) || vars.length !== 2 || e.terms.length !== 2 || !vars.includes(s)) return null;
  const o = vars.find((v) => v !== s)!;
  const a = idxCoef(e, o);
  const b = idxCoef(e, s);
  if (!out.includes(o) || !a || a === 'nested' || !b || b === 'nested') return null;
  return { o, s, a, b, k: e.constant };
}

/** A parameter per axis: one value when the axes agree, else a tuple; omitted at its default. */
function param(name: string, ps: readonly Poly[], dflt: number): string | null {
  const texts = ps.map(printPoly);
  if (texts.every((t) => t === String(dflt))) return null;
  return `${name}=${new Set(texts).size === 1 ? texts[0] : `(${texts.join(', ')})`}`;
}

/** A slice's subscripts may be expressions, X[n,g*Cg+c]: grouped channels (a slice outside the tensor is 0). */
const heads = (t: Access, n: number): string[] => t.subs.slice(0, t.subs.length - n).map(printIndex);
const slice = (t: Access, n: number) => `${t.tensor}[${heads(t, n).join(',')}]`;

export function correlation(st: Statement, shapes: Shapes): { text: string; latex: string } | null {
  const p = product(st.rhs);
  if (!p) return null;
  const out = st.lhs.map((b) => b.name);
  for (const [M, Pl] of [[p.A, p.B], [p.B, p.A]] as const) {
    // the spatial axes: the trailing subscripts of M that mix an output and a summed index
    const axes: Axis[] = [];
    for (let q = 1; q <= Math.min(M.subs.length, Pl.subs.length); q++) {
      const ax = axisOf(M.subs[M.subs.length - q]!, Pl.subs[Pl.subs.length - q]!, out, p.sums);
      if (!ax) break;
      axes.unshift(ax);
    }
    const n = axes.length;
    if (n === 0) continue;
    // the output's spatial axes are its trailing ones, in the same order
    if (!axes.every((ax, i) => out[out.length - n + i] === ax.o)) continue;
    // every other subscript reads channel indices only (g*Cg+c in a grouped convolution), and spatial
    // indices appear nowhere else
    const spatial = new Set(axes.flatMap((ax) => [ax.o, ax.s]));
    const headVars = [...M.subs.slice(0, M.subs.length - n), ...Pl.subs.slice(0, Pl.subs.length - n)].flatMap(idxVars);
    if (headVars.some((v) => spatial.has(v)) || out.slice(0, out.length - n).some((v) => spatial.has(v))) continue;
    if (!out.slice(0, out.length - n).every((v) => headVars.includes(v))) continue;
    const channelSums = p.sums.filter((x) => !spatial.has(x));
    if (!channelSums.every((x) => headVars.includes(x)) || p.sums.length !== channelSums.length + n) continue;
    const r = canonical(axes, M, Pl, shapes);
    if (!r) continue;
    const lhs = `${st.tensor}[${out.slice(0, out.length - n).join(',')}]`;
    const opts = [param('t', r.t, 1), param('d', r.d, 1), param('p', r.p, 0)].filter((x) => x);
    const star = opts.length ? `⋆[${opts.join(', ')}]` : '⋆';
    const kernel = r.flip ? `flip(${slice(r.kernel, n)})` : slice(r.kernel, n);
    const sigma = channelSums.length ? `Σ_${channelSums.length === 1 ? channelSums[0] : `{${channelSums.join(',')}}`} ` : '';
    const text = `${lhs} = ${p.neg ? '−' : ''}${sigma}${slice(r.signal, n)} ${star} ${kernel}`;
    const lx = (t: Access) => `${latexName(t.tensor)}_{${t.subs.slice(0, t.subs.length - n).map(indexLatex).join(',')}}`;
    // D*R-D as D R-D, the way LaTeX writes a product of sizes
    const latexStar = `\\star${opts.length ? `_{${opts.map((o) => o!.replace(/\*/g, ' ')).join(',\\,')}}` : ''}`;
    const latexKernel = r.flip ? `\\operatorname{flip}\\left(${lx(r.kernel)}\\right)` : lx(r.kernel);
    const latex = `${latexName(st.tensor)}_{${out.slice(0, out.length - n).join(',')}} = ${p.neg ? '-' : ''}${channelSums.length ? `\\sum_{${channelSums.join(',')}} ` : ''}${lx(r.signal)} ${latexStar} ${latexKernel}`;
    return { text, latex };
  }
  return null;
}

/** Every axis rewritten as Σ_k signal[t·o + d·k − p]·kernel[k] (kernel flipped when `flip`); one case for all axes. */
function canonical(axes: readonly Axis[], M: Access, Pl: Access, shapes: Shapes) {
  const n = axes.length;
  const extent = (t: Access, i: number): Poly | undefined => {
    const sz = shapes(t.tensor)?.[t.subs.length - n + i];
    return sz?.kind === 'poly' ? sz.poly : undefined;
  };
  const cases = axes.map((ax) => {
    const sa = sign(ax.a);
    const sb = sign(ax.b);
    // a true convolution M[o − s + k]: the plain factor slides, M is the flipped kernel (dY ⋆ K̃)
    if (isOne(ax.a) && isMinusOne(ax.b)) return 'conv';
    if (sa === 1 && sb === 1) return 'corr';
    if (sa === 1 && sb === -1) return 'dilatedConv';
    // M[s − t·o + k]: substitute j = s − t·o + k, so Pl is read at t·o + j − k (a transposed conv)
    if (sa === -1 && isOne(ax.b)) return 'strided';
    return undefined;
  });
  const kind = cases[0];
  if (!kind || !cases.every((c) => c === kind)) return null;
  const t: Poly[] = [];
  const d: Poly[] = [];
  const p: Poly[] = [];
  for (const [i, ax] of axes.entries()) {
    if (kind === 'corr') {
      t.push(ax.a), d.push(ax.b), p.push(polyScale(ax.k, -1));
    } else if (kind === 'conv') {
      // s = o − i' + k with M flipped: i' = R−1−i, so the padding is R − 1 − k
      const R = extent(M, i);
      if (!R) return null;
      t.push(ax.a), d.push(polyConst(1)), p.push(polyAdd(polyAdd(R, polyScale(ax.k, -1)), polyConst(-1)));
    } else if (kind === 'dilatedConv') {
      // flip Pl (extent R): s = R−1−k', so M[a·o + |b|·k' + b·(R−1) + k], padding −k − b·(R−1)
      const R = extent(Pl, i);
      if (!R) return null;
      t.push(ax.a), d.push(polyScale(ax.b, -1)), p.push(polyScale(polyAdd(ax.k, polyMul(ax.b, polyAdd(R, polyConst(-1)))), -1));
    } else {
      t.push(polyScale(ax.a, -1)), d.push(polyConst(1)), p.push(ax.k);
    }
  }
  const signal = kind === 'corr' || kind === 'dilatedConv' ? M : Pl;
  const kernel = signal === M ? Pl : M;
  return { signal, kernel, flip: kind === 'conv' || kind === 'dilatedConv', t, d, p };
}
