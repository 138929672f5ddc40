// unrollSums: `acc += f(p)` over a long loop is one dependency chain (one add in flight). Four partial
// sums keep four in flight: lanes read at p, p+s, p+2s, p+3s, and a remainder loop finishes.
//
// Worked example, a loop the lowering marked `unrolled` (after strengthReduce):
//   for k in [lo, hi) { $acc = $acc + load(A, $p)*load(B, $q); $p = $p + 1; $q = $q + N }
// becomes
//   let $acc2 = 0, $acc3 = 0, $acc4 = 0; let $end = lo + (n − n rem 4) where n = max(0, hi − lo)
//   for k in [lo, $end) by 4 { $acc += A[$p]*B[$q]; $acc2 += A[$p+1]*B[$q+N]; … ; $p += 4; $q += 4*N }
//   for k in [$end, hi) { $acc += A[$p]*B[$q]; $p += 1; $q += N }
//   $acc = $acc + ($acc2 + $acc3 + $acc4)
// It applies when the body is exactly one accumulation and the pointer advances (the term may read
// the loop variable: lane k reads it + k); any other loop marked `unrolled` stays as it is.
import { add, assign, c, isConst, let_, max, mul, rem, sub, substitute, sym, v, varsOf } from '../loop/build.js';
import type { Kernel, LExpr, LStmt, Sym } from '../loop/types.js';

const LANES = 4;

function unrollLoop(loop: Extract<LStmt, { kind: 'for' }>): LStmt[] | undefined {
  if (!isConst(loop.step, 1)) return undefined;
  const [first, ...rest] = loop.body;
  if (!first || first.kind !== 'assign') return undefined;
  const acc = first.v;
  const x = first.value;
  if (x.kind !== 'binary' || x.op !== '+' || x.a.kind !== 'var' || x.a.v !== acc) return undefined;
  const term = x.b;
  // the rest: pointer advances p = p + s, with s free of the pointers and of the accumulator
  const advances: { p: Sym; by: LExpr }[] = [];
  for (const s of rest) {
    if (s.kind !== 'assign' || s.value.kind !== 'binary' || s.value.op !== '+' || s.value.a.kind !== 'var' || s.value.a.v !== s.v) return undefined;
    advances.push({ p: s.v, by: s.value.b });
  }
  const moving = new Set([acc, loop.v, ...advances.map((a) => a.p)]);
  if (varsOf(term).has(acc) || advances.some((a) => [...varsOf(a.by)].some((s) => moving.has(s)))) return undefined;
  // lane k reads where the loop would be k iterations on: its variable + k, each pointer + k steps
  const lane = (k: number) => advances.reduce((e, a) => substitute(e, a.p, add(v(a.p), mul(c(k), a.by))), substitute(term, loop.v, add(v(loop.v), c(k))));
  const partial = [acc, ...Array.from({ length: LANES - 1 }, () => sym(acc.name, acc.ty))];
  const count = sym('$n', 'i32');
  const end = sym('$end', 'i32');
  return [
    ...partial.slice(1).map((p) => let_(p, c(0, acc.ty), true)),
    let_(count, max(c(0), sub(loop.hi, loop.lo))),
    let_(end, add(loop.lo, sub(v(count), rem(v(count), c(LANES))))),
    {
      ...loop,
      hi: v(end),
      step: c(LANES),
      loop: 'serial',
      body: [...partial.map((p, k) => assign(p, add(v(p), lane(k)))), ...advances.map((a) => assign(a.p, add(v(a.p), mul(c(LANES), a.by))))],
    },
    // the remainder: the same body from $end (a sibling loop may bind the same variable)
    { ...loop, lo: v(end), loop: 'serial' },
    assign(acc, add(v(acc), partial.slice(1).map((p) => v(p) as LExpr).reduce((a, b) => add(a, b)))),
  ];
}

function unrollList(body: readonly LStmt[]): LStmt[] {
  return body.flatMap((s): LStmt[] => {
    switch (s.kind) {
      case 'for': {
        const inner = { ...s, body: unrollList(s.body) };
        return (s.loop === 'unrolled' && unrollLoop(inner)) || [{ ...inner, loop: s.loop === 'unrolled' ? 'serial' : s.loop }];
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

export function unrollSums(k: Kernel): Kernel {
  return { ...k, body: unrollList(k.body) };
}
