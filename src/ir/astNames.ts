// astNames: every name a parsed expression mentions — indices, tensors, sizes, functions — so that
// a rewrite of the syntax tree (matrix notation, an affine left side) can make fresh names that
// clash with none of them.
//
// Worked example: `sum(k) A[i,k]*f(x[k])` mentions sum's k, A, i, f and x: {k, A, i, f, x}.
import type { Ast } from './parse.js';
import { assertNever } from './types.js';

/** Every name in a tree, added to `out` (returned). */
export function namesIn(a: Ast, out: Set<string> = new Set()): Set<string> {
  switch (a.k) {
    case 'num':
      break;
    case 'name':
      out.add(a.name);
      break;
    case 'access':
      out.add(a.name);
      a.subs.forEach((s) => namesIn(s, out));
      break;
    case 'unary':
    case 'transpose':
      namesIn(a.arg, out);
      break;
    case 'binary':
    case 'compare':
      namesIn(a.a, out);
      namesIn(a.b, out);
      break;
    case 'call':
      out.add(a.name);
      a.args.forEach((s) => namesIn(s, out));
      a.subs?.forEach((s) => namesIn(s, out));
      break;
    case 'reduce':
      a.heads.forEach((h) => {
        out.add(h.name);
        if (h.range) namesIn(h.range, out);
      });
      a.at?.forEach((s) => namesIn(s, out));
      namesIn(a.body, out);
      break;
    default:
      return assertNever(a);
  }
  return out;
}
