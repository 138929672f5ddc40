// solveLeftSide: a left side with an affine subscript, as a layer is written naturally, becomes a
// plain index and an equality the right side sums over — the gather form, which every later stage
// takes as any other statement (and the differentiator solves the equality as a δ).
//
// Worked example (grouped convolution, Y: [N, G*Fg, H, W] declared):
//   Y[n, g*Fg+f, u, v] = W[g,f,c,i,j] * X[n, g*Cg+c, u+i, v+j]
//   →  Y[n, o, u, v] = sum(g, f) (o == g*Fg+f) * (W[g,f,c,i,j] * X[n, g*Cg+c, u+i, v+j])
// o runs over Y's dimension; g and f over their uses on the right (W's dimensions); an element of Y
// that no (g, f) reaches is 0, and two that reach the same element add up.
import { fail, type Span } from './errors.js';
import { namesIn } from './astNames.js';
import type { Ast, Line } from './parse.js';

type Assign = Extract<Line, { k: 'assign' }>;

/** What the rewrite needs of the program: which names are sizes or constants, and the declared ranks. */
export interface LeftSideScope {
  readonly sizes: ReadonlyMap<string, unknown>;
  readonly consts: ReadonlyMap<string, unknown>;
  readonly declared: ReadonlyMap<string, unknown>;
}

/** The statement with each affine left-side subscript made a fresh index; undefined when all are plain. */
export function solveLeftSide(l: Assign, scope: LeftSideScope): Assign | undefined {
  const subs = l.subs ?? [];
  if (subs.every((s) => s.k === 'name')) return undefined;
  const plain = new Set(subs.flatMap((s) => (s.k === 'name' ? [s.name] : [])));
  const taken = namesIn(l.rhs, new Set([l.name, ...subs.flatMap((s) => [...namesIn(s, new Set())])]));
  const fresh = (): string => {
    let k = 1;
    while (taken.has(k === 1 ? 'o' : `o${k}`)) k++;
    const name = k === 1 ? 'o' : `o${k}`;
    taken.add(name);
    return name;
  };
  const guards: Ast[] = [];
  const bound: { name: string; span: Span }[] = [];
  const newSubs = subs.map((s): Ast => {
    if (s.k === 'name') return s;
    if (!scope.declared.has(l.name))
      fail('bad-left-side', `the left side of ${l.name} has an expression, and ${l.name} is not declared`, s.span, `declare ${l.name} with its shape (e.g. \`${l.name}: [N, G*Fg]\`), so that the subscript's range is known`);
    const indices = [...namesIn(s, new Set())].filter((n) => !scope.sizes.has(n) && !scope.consts.has(n));
    if (indices.length === 0) fail('bad-left-side', `the left side of ${l.name} has a subscript with no index`, s.span, 'write an index name, or an affine expression of index names such as `g*Fg+f`');
    for (const n of indices) {
      if (plain.has(n) || bound.some((b) => b.name === n))
        fail('bad-left-side', `index ${n} appears twice on the left side of ${l.name}`, s.span, 'left-side indices must be distinct; read the diagonal on the right: `d[i] = A[i,i]`');
      bound.push({ name: n, span: s.span });
    }
    const o = fresh();
    const at: Ast = { k: 'name', name: o, span: s.span };
    guards.push({ k: 'compare', op: '==', a: at, b: s, span: s.span });
    return at;
  });
  const guard = guards.reduce((a, b) => ({ k: 'binary', op: '*', a, b, span: b.span }));
  const rhs: Ast = { k: 'reduce', op: 'sum', heads: bound, body: { k: 'binary', op: '*', a: guard, b: l.rhs, span: l.rhs.span }, span: l.rhs.span };
  return { ...l, subs: newSubs, rhs };
}
