// verify: the invariants every pass must keep, checked between passes in tests.
//
// Worked example: after delta elimination `dX[k,j] = sum(i) A[i,k]*dY[i,j]` passes — every index
// is bound (left side or a reduction) with an extent, every access has its tensor's rank, and no δ
// survives; `dX[k,j] = sum(i) A[i,k,0]*δ(i,k)` would fail twice.
import { idxVars } from './affine.js';
import { children } from './exprs.js';
import type { Expr, Program, SizeExpr, Statement } from './types.js';

export function verifyStatement(s: Statement, rankOf: (tensor: string) => number | undefined): string[] {
  const problems: string[] = [];
  const walk = (e: Expr, bound: ReadonlySet<string>) => {
    const use = (names: string[]) => names.forEach((n) => bound.has(n) || problems.push(`${s.tensor}: index ${n} is not bound`));
    switch (e.kind) {
      case 'delta':
        problems.push(`${s.tensor}: a δ survived`);
        return;
      case 'access': {
        const r = rankOf(e.tensor);
        if (r !== undefined && r !== e.subs.length) problems.push(`${s.tensor}: ${e.tensor} has rank ${r} but ${e.subs.length} subscripts`);
        e.subs.forEach((x) => use(idxVars(x)));
        return;
      }
      case 'index':
        use(idxVars(e.expr));
        return;
      case 'reduce':
      case 'argmax': {
        const inner = new Set(bound);
        for (const b of e.indices) {
          if (!validExtent(b.extent)) problems.push(`${s.tensor}: index ${b.name} has no extent`);
          inner.add(b.name);
        }
        if (e.kind === 'argmax') e.at.forEach((x) => use(idxVars(x)));
        walk(e.body, inner);
        return;
      }
      default:
        children(e).forEach((c) => walk(c, bound));
    }
  };
  s.lhs.forEach((b) => validExtent(b.extent) || problems.push(`${s.tensor}: index ${b.name} has no extent`));
  walk(s.rhs, new Set(s.lhs.map((b) => b.name)));
  return problems;
}

const validExtent = (x: SizeExpr): boolean => !(x.kind === 'poly' && x.poly.size === 1 && x.poly.get('') === -1);

export function verifyProgram(p: Program, extra: readonly Statement[] = []): string[] {
  const rank = new Map(p.tensors.map((t) => [t.name, t.shape.length] as const));
  const rankOf = (t: string) => rank.get(t) ?? (t.startsWith('d') ? rank.get(t.slice(1)) : undefined);
  return [...p.statements, ...extra].flatMap((s) => verifyStatement(s, rankOf));
}
