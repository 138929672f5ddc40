// unrollSmallLoops: a loop of a few constant trips (a 3×3 or 2×2 window, after peelBorders settled its
// bounds) becomes its body that many times, the loop variable a constant in each copy — so the loop
// around it is innermost and the vectorizer can run it over lanes. Applied to WebAssembly kernels,
// before strengthReduce (each copy's indices are then offsets of one pointer).
//
// Worked example: for j in [0, 3) { let $t = K[j]·X[w + j − 1]; acc = acc + $t }
// becomes  let $t = K[0]·X[w − 1]; acc = acc + $t; let $t2 = K[1]·X[w]; acc = acc + $t2; let $t3 = …
// (each copy's lets are fresh symbols). It applies, innermost first, to serial or `unrolled` loops of
// step 1 with at most MAX_TRIPS trips whose body has no loop left and at most MAX_STATEMENTS
// statements once copied.
import { c, isConst, substituteAll, sym, v } from '../loop/build.js';
import { mapStmtExprs } from '../loop/mapLoop.js';
import type { Kernel, LExpr, LStmt, Sym } from '../loop/types.js';

const MAX_TRIPS = 4;
const MAX_STATEMENTS = 48;

/** The list with its lets bound to fresh symbols and x read as `at`. */
function copyWith(body: readonly LStmt[], x: Sym, at: LExpr): LStmt[] {
  const map = new Map<Sym, LExpr>([[x, at]]);
  const rename = (list: readonly LStmt[]): LStmt[] =>
    list.map((s): LStmt => {
      const exprs = (t: LStmt) => mapStmtExprs([t], (e) => substituteAll(e, map))[0]!;
      switch (s.kind) {
        case 'let': {
          const init = exprs(s) as Extract<LStmt, { kind: 'let' }>;
          const fresh = sym(s.v.name, s.v.ty);
          map.set(s.v, v(fresh));
          return { ...init, v: fresh };
        }
        case 'assign': {
          const value = exprs(s) as Extract<LStmt, { kind: 'assign' }>;
          const to = map.get(s.v);
          return to && to.kind === 'var' ? { ...value, v: to.v } : value;
        }
        case 'if':
          return { ...s, cond: substituteAll(s.cond, map), then: rename(s.then), else: rename(s.else) };
        case 'block':
          return { ...s, body: rename(s.body) };
        default:
          return exprs(s);
      }
    });
  return rename(body);
}

const hasLoop = (body: readonly LStmt[]): boolean => body.some((s) => s.kind === 'for' || (s.kind === 'if' && (hasLoop(s.then) || hasLoop(s.else))) || (s.kind === 'block' && hasLoop(s.body)));
const count = (body: readonly LStmt[]): number => body.reduce((n, s) => n + 1 + (s.kind === 'if' ? count(s.then) + count(s.else) : s.kind === 'block' ? count(s.body) : 0), 0);

function unrollList(body: readonly LStmt[]): LStmt[] {
  return body.flatMap((s): LStmt[] => {
    switch (s.kind) {
      case 'for': {
        const inner = unrollList(s.body);
        const trips = s.lo.kind === 'const' && s.hi.kind === 'const' ? s.hi.value - s.lo.value : Infinity;
        const small = (s.loop === 'serial' || s.loop === 'unrolled') && isConst(s.step, 1) && trips <= MAX_TRIPS && !hasLoop(inner) && trips * count(inner) <= MAX_STATEMENTS;
        if (!small) return [{ ...s, body: inner }];
        const lo = (s.lo as Extract<LExpr, { kind: 'const' }>).value;
        return Array.from({ length: Math.max(0, trips) }, (_, k) => copyWith(inner, s.v, c(lo + k))).flat();
      }
      case 'if':
        return [{ ...s, then: unrollList(s.then), else: unrollList(s.else) }];
      case 'block':
        return [{ ...s, body: unrollList(s.body) }];
      default:
        return [s];
    }
  });
}

export function unrollSmallLoops(k: Kernel): Kernel {
  if (k.runs !== 'wasm') return k;
  return { ...k, body: unrollList(k.body) };
}
