// splitMergedIndex: a left-side index p over A·C that the sum reads only as p/C and p%C → two indices,
// g over A and c over C with p = g·C + c, so that the matmul lowering sees g as a batch index.
//
// Worked example, the grouped convolution's input gradient (X: [N, G*CG, H, W]):
//   dX[n,p1,h,w] = sum(f,u,v) K[p1/CG,f,p1%CG,h+P-u,w+P-v]*dY[n,p1/CG,f,u,v]
// becomes, over g < G and cg < CG,
//   dX[n,g,cg,h,w] = sum(f,u,v) K[g,f,cg,h+P-u,w+P-v]*dY[n,g,f,u,v]   written at dX[n, g*CG+cg, h, w]
// — one convolution input gradient per group (K and dY both read g): a GEMM per group, where the
// quotients kept it in the direct loops. `out` maps the new left side's subscripts (the residue
// classes' own, when split further) back to the tensor's: position p takes g·C + c.
import { idxAdd, idxAsVar, idxScale, idxVar } from '../ir/affine.js';
import { allIndexNames, mapIndices } from '../ir/exprs.js';
import { polyEquals, polyMul, sizeNames, sizePoly } from '../ir/sizes.js';
import type { Bound, IndexExpr, Poly, SizeExpr, Statement } from '../ir/types.js';

export interface MergedSplit {
  /** the statement over the split left side: g and c in place of p */
  readonly statement: Statement;
  /** the tensor's subscripts from the new left side's */
  readonly out: (subs: readonly IndexExpr[]) => IndexExpr[];
}

/** q with a = q·b, for a monomial b (G*CG over CG is G); undefined when b does not divide a so. */
function divideMonomial(a: Poly, b: Poly): Poly | undefined {
  if (b.size !== 1) return undefined;
  const [[bKey, bCoef]] = [...b] as [[string, number]];
  const bNames = bKey ? bKey.split('*') : [];
  const q = new Map<string, number>();
  for (const [key, coef] of a) {
    const names = key ? key.split('*') : [];
    for (const n of bNames) {
      const at = names.indexOf(n);
      if (at < 0) return undefined;
      names.splice(at, 1);
    }
    if (coef % bCoef !== 0) return undefined;
    q.set(names.join('*'), coef / bCoef);
  }
  return polyEquals(polyMul(q, b), a) ? q : undefined;
}

/** The divisor C when every use of p in the right side is p/C or p%C with one C, p never alone. */
function divisorOf(s: Statement, p: string): Poly | undefined {
  let by: Poly | undefined;
  let alone = false;
  mapIndices(s.rhs, (x) => {
    for (const t of x.terms) {
      const a = t.atom;
      if ((a.kind === 'div' || a.kind === 'mod') && idxAsVar(a.of) === p) {
        if (by && !polyEquals(by, a.by)) alone = true;
        by = a.by;
      } else if (a.kind === 'var' && a.name === p) alone = true;
    }
    return x;
  });
  return alone ? undefined : by;
}

export function splitMergedIndex(s: Statement): MergedSplit | undefined {
  const taken = new Set([...s.lhs.map((b) => b.name), ...allIndexNames(s.rhs)]);
  const nameFor = (extent: Poly, fallback: string) => {
    const names = sizeNames(sizePoly(extent));
    const base = names.length === 1 ? names[0]!.toLowerCase() : fallback;
    let name = base;
    for (let k = 2; taken.has(name); k++) name = `${base}${k}`;
    taken.add(name);
    return name;
  };
  for (const [d, b] of s.lhs.entries()) {
    if (b.extent.kind !== 'poly') continue;
    const by = divisorOf(s, b.name);
    const groups = by && divideMonomial(b.extent.poly, by);
    if (!by || !groups) continue;
    const g = nameFor(groups, 'g');
    const c = nameFor(by, 'c');
    const rhs = mapIndices(s.rhs, (x) => {
      let out: IndexExpr = { terms: [], constant: x.constant };
      for (const t of x.terms) {
        const a = t.atom;
        const mine = (a.kind === 'div' || a.kind === 'mod') && idxAsVar(a.of) === b.name;
        out = idxAdd(out, mine ? idxScale(idxVar(a.kind === 'div' ? g : c), t.coef) : { terms: [t], constant: new Map() });
      }
      return out;
    });
    // p inside another quotient or a data read: not this pattern
    if (allIndexNames(rhs).includes(b.name)) continue;
    const split: Bound[] = [
      { name: g, extent: sizePoly(groups) as SizeExpr },
      { name: c, extent: sizePoly(by) as SizeExpr },
    ];
    const statement: Statement = { ...s, lhs: [...s.lhs.slice(0, d), ...split, ...s.lhs.slice(d + 1)], rhs };
    const out = (subs: readonly IndexExpr[]) => [...subs.slice(0, d), idxAdd(idxScale(subs[d]!, by), subs[d + 1]!), ...subs.slice(d + 2)];
    return { statement, out };
  }
  return undefined;
}
