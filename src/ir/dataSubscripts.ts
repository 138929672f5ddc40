// dataSubscripts: where a statement reads through integer data — E[tok[n]+c, d] — and the message
// when an element of the data falls outside the dimension it subscripts. The interpreter and the
// kernels both check every element of tok before the statement runs, so neither reads (nor
// scatters) out of range, and no zero padding hides a bad token.
//
// Worked example: `Y[n,d] = E[tok[n], d]` (E: [V, D], tok: int[N]) has one data subscript,
//   { data: 'tok', tensor: 'E', dim: 0, offset: 0, text: 'tok[n]' }
// and with tok[3] = 7, V = 5 the message is
//   `Y: tok[3] = 7 makes the subscript tok[n] of E 7, outside [0, 5) (dimension 1 of E)`.
import { printIndex } from './affine.js';
import { children } from './exprs.js';
import { POLY_ZERO } from './sizes.js';
import type { Expr, IndexExpr, Poly, Statement } from './types.js';

export interface DataSubscript {
  /** the integer tensor read */
  readonly data: string;
  /** the tensor it subscripts, and which dimension */
  readonly tensor: string;
  readonly dim: number;
  /** the constant added to the element (tok[n]+1: 1) */
  readonly offset: Poly;
  /** the subscript as written, for messages */
  readonly text: string;
}

/** A subscript `tok[…] + c`, the only data-dependent form the checker lets subscript a tensor. */
function asData(tensor: string, dim: number, ix: IndexExpr): DataSubscript | undefined {
  const t = ix.terms[0];
  if (ix.terms.length !== 1 || t!.atom.kind !== 'read') return undefined;
  return { data: t!.atom.tensor, tensor, dim, offset: ix.constant ?? POLY_ZERO, text: printIndex(ix) };
}

/** Every data subscript of a statement: its reads and a scatter's left side, each once. */
export function dataSubscripts(s: Statement): DataSubscript[] {
  const out = new Map<string, DataSubscript>();
  const note = (tensor: string, subs: readonly IndexExpr[]) =>
    subs.forEach((ix, d) => {
      const x = asData(tensor, d, ix);
      if (x) out.set(`${tensor}/${d}/${x.text}`, x);
    });
  const walk = (e: Expr) => {
    if (e.kind === 'access') note(e.tensor, e.subs);
    children(e).forEach(walk);
  };
  walk(s.rhs);
  if (s.scatter) note(s.tensor, s.scatter.at);
  return [...out.values()];
}

/** The error text: the statement, the element of the data (its position and value), the subscript. */
export function outOfRange(statement: string, d: DataSubscript, at: { pos: readonly string[]; token: string; value: string; hi: string }): string {
  return `${statement}: ${d.data}${at.pos.length ? `[${at.pos.join(', ')}]` : ''} = ${at.token} makes the subscript ${d.text} of ${d.tensor} ${at.value}, outside [0, ${at.hi}) (dimension ${d.dim + 1} of ${d.tensor})`;
}
