// renderConv: the 2-D convolution's gradients the way seed 001 writes them — dX as a correlation of
// dY (dilated by the stride) with the flipped, channel-transposed kernel K̃, dK as a correlation of
// the input with dY, db as a channel sum. Other convolutions go through renderCorrelation.
//
// Worked example: dX[n,c,h,w] = sum(f,u,v) K[f,c,h-u,w-v]*dY[n,f,u,v] prints as dX = dY ⋆ K̃, with
// K̃[c,f,i,j] = K[f,c,R-1-i,S-1-j] and dY zero-padded by R-1 rows and S-1 columns.
import { idxAsVar, idxCoef, printIndex } from '../ir/affine.js';
import { polyAdd, polyConst, polyConstValue, polyScale, polyVar, printPoly, printSize, sizeAdd, sizeConst, sizePoly, sizeSub } from '../ir/sizes.js';
import type { IndexExpr, Poly, SizeExpr, Statement } from '../ir/types.js';
import { latexName, latexSub } from './renderLatex.js';
import { plainSubs, sameList, splitTerm } from './splitTerm.js';

type Shapes = (tensor: string) => readonly SizeExpr[] | undefined;
export interface ConvForm {
  readonly text: string;
  readonly latex: string;
}

/** Σ_{f,u,v} K[f,c,h+Q-u*T, w+Q'-v*T]·dY[n,f,u,v]  →  correlation of dY (dilated by T, padded R−1−Q) with K̃;
 *  likewise with one spatial axis (1-D, K[f,c,l+Q-t*T]) or three, all at one stride. */
export function convInputGradient(s: Statement, shapes: Shapes): ConvForm | null {
  const m = s.lhs.length - 2;
  if (m < 1 || m > 3) return null;
  const t = splitTerm(s.rhs);
  if (!t || t.scalars.length || t.neg || t.sums.length !== m + 1 || t.factors.length !== 2) return null;
  const [n, c, ...out] = s.lhs.map((b) => b.name) as [string, string, ...string[]];
  const [f, ...pos] = t.sums as [string, ...string[]];
  const g = t.factors.find((x) => x.kind === 'access' && sameList(plainSubs(x.subs), [n, f, ...pos]));
  const k = t.factors.find((x) => x !== g);
  if (!g || !k || k.kind !== 'access' || g.kind !== 'access' || k.subs.length !== m + 2) return null;
  if (idxAsVar(k.subs[0]!) !== f || idxAsVar(k.subs[1]!) !== c) return null;
  const spatial = (e: IndexExpr, o: string, p: string) => {
    const co = idxCoef(e, o);
    const cp = idxCoef(e, p);
    if (!co || co === 'nested' || polyConstValue(co) !== 1 || !cp || cp === 'nested' || e.terms.length !== 2) return null;
    return { stride: polyScale(cp, -1), offset: e.constant };
  };
  const axes = out.map((o, i) => spatial(k.subs[2 + i]!, o, pos[i]!));
  if (axes.some((a) => !a) || new Set(axes.map((a) => printPoly(a!.stride))).size !== 1) return null;
  const K = k.tensor;
  const dY = g.tensor;
  const shape = shapes(K);
  const names = ['i', 'j', 'k'].slice(0, m);
  const extents = names.map((_, i) => shape?.[2 + i] ?? sizePoly(polyVar(['R', 'S', 'Q'][i]!)));
  const ext = extents.map(printSize);
  const stride = printPoly(axes[0]!.stride);
  const strideOne = polyConstValue(axes[0]!.stride) === 1;
  // at unit stride a 1-D or 3-D convolution is the family's correlation (renderCorrelation); this
  // form is for a stride, which dilates dY
  if (m !== 2 && strideOne) return null;
  const gaps = printPoly(polyAdd(axes[0]!.stride, polyConst(-1)));
  // rows of zeros around dY: the kernel extent − 1 − the offset
  const pad = (off: Poly, size: SizeExpr) => printSize(sizeSub(sizeAdd(size, sizeConst(-1)), sizePoly(off)));
  const pads = axes.map((a, i) => pad(a!.offset, extents[i]!));
  const padding = m === 2 ? `${pads[0]} rows and ${pads[1]} columns` : m === 1 ? pads[0]! : `(${pads.join(', ')})`;
  const kt = `${K}̃`;
  const flipped = `${K}[f,c,${names.map((x, i) => `${ext[i]}-1-${x}`).join(',')}]`;
  const textForm = `${s.tensor} = ${strideOne ? dY : `dilate_${stride}(${dY})`} ⋆ ${kt}: the correlation of ${strideOne ? dY : `${dY} with ${gaps} zero${gaps === '1' ? '' : 's'} between its elements`}, zero-padded by ${padding}, with the flipped, channel-transposed kernel ${kt}[c,f,${names.join(',')}] = ${flipped}`;
  const latexForm = `${latexName(s.tensor)} = ${strideOne ? latexName(dY) : `\\operatorname{dilate}_{${stride}}\\left(${latexName(dY)}\\right)`} \\star \\tilde{${latexName(K)}}, \\quad \\tilde{${latexName(K)}}_{c,f,${names.join(',')}} = ${latexSub(K, `f,c,${names.map((x, i) => `${ext[i]}-1-${x}`).join(',')}`)}`;
  return { text: textForm, latex: latexForm };
}

/** Σ_{n,u,v} X[n,c,u*T+i-Q, v*T+j-Q']·dY[n,f,u,v]  →  correlation of the padded input with dY. */
export function convKernelGradient(s: Statement, _shapes: Shapes): ConvForm | null {
  if (s.lhs.length !== 4) return null;
  const t = splitTerm(s.rhs);
  if (!t || t.scalars.length || t.neg || t.sums.length !== 3 || t.factors.length !== 2) return null;
  const [f, c, i, j] = s.lhs.map((b) => b.name) as [string, string, string, string];
  const [n, u, v] = t.sums as [string, string, string];
  const g = t.factors.find((x) => x.kind === 'access' && sameList(plainSubs(x.subs), [n, f, u, v]));
  const x = t.factors.find((y) => y !== g);
  if (!g || !x || x.kind !== 'access' || g.kind !== 'access' || x.subs.length !== 4) return null;
  if (idxAsVar(x.subs[0]!) !== n || idxAsVar(x.subs[1]!) !== c) return null;
  const spatial = (e: IndexExpr, k: string, out: string) => {
    const ck = idxCoef(e, k);
    const co = idxCoef(e, out);
    if (!ck || ck === 'nested' || polyConstValue(ck) !== 1 || !co || co === 'nested' || e.terms.length !== 2) return null;
    return { stride: co, offset: polyScale(e.constant, -1) };
  };
  const a = spatial(x.subs[2]!, i, u);
  const b = spatial(x.subs[3]!, j, v);
  if (!a || !b) return null;
  const stride = printPoly(a.stride);
  const strideOne = polyConstValue(a.stride) === 1;
  // the slices are labelled with the statement's own indices: a transposed conv's dK[c,f,i,j] reads dK[c,f]
  // and correlates the output gradient (padded) with its input (dilated), the roles swapped
  const swapped = /^d[A-Z]/.test(x.tensor) && !/^d[A-Z]/.test(g.tensor);
  const roles = swapped ? [`${x.tensor} channel`, `${g.tensor} channel`] : ['input channel', 'output-gradient channel'];
  const textForm = `${s.tensor}[${f},${c}] = Σ${n === 'n' ? 'ₙ' : `_${n}`} ${x.tensor}[${n},${c}] ⋆ ${strideOne ? `${g.tensor}[${n},${f}]` : `(${g.tensor}[${n},${f}] dilated by ${stride})`}: the correlation of each ${roles[0]} (zero-padded by ${printPoly(a.offset)}) with each ${roles[1]}, summed over the batch`;
  const latexForm = `${latexSub(s.tensor, `${f},${c}`)} = \\sum_{${n}} ${latexSub(x.tensor, `${n},${c}`)} \\star ${strideOne ? latexSub(g.tensor, `${n},${f}`) : `\\operatorname{dilate}_{${stride}}\\left(${latexSub(g.tensor, `${n},${f}`)}\\right)`}`;
  return { text: textForm, latex: latexForm };
}

/** db[f] = Σ_{n,u,v} G[n,f,u,v]: the bias gradient sums the output gradient over everything but its channel. */
export function channelSum(s: Statement, _shapes: Shapes): ConvForm | null {
  const t = splitTerm(s.rhs);
  if (!t || t.scalars.length || t.neg || t.factors.length !== 1 || s.lhs.length !== 1 || t.sums.length < 2) return null;
  const g = t.factors[0]!;
  if (g.kind !== 'access') return null;
  const vars = plainSubs(g.subs);
  const all = [s.lhs[0]!.name, ...t.sums];
  if (vars.length !== all.length || !all.every((x) => vars.includes(x))) return null;
  const over = t.sums.join(', ');
  return {
    text: `${s.tensor} = Σ_{${over}} ${g.tensor}: ${g.tensor} summed over ${over}`,
    latex: `${latexSub(s.tensor, s.lhs[0]!.name)} = \\sum_{${over}} ${latexSub(g.tensor, g.subs.map(printIndex).join(','))}`,
  };
}

