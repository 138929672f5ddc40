// ifToSelect: a branch that only assigns locals becomes selects — no branch to mispredict. Applied
// to WebAssembly kernels (JavaScript keeps its branches: V8 decides for itself there).
//
// Worked example, the max of a pooling window that records its arg-max:
//   let $v = load(X, $p);  if ($v > $acc) { $acc = $v; $arg = $k + j }
// becomes
//   let $v = load(X, $p);  let $c = $v > $acc;  $acc = select($c, $v, $acc);  $arg = select($c, $k + j, $arg)
// On random data the comparison goes either way half the time, so the branch was mispredicted half
// the time (the max-pool forward ran at ~25 ns an output). The condition is computed once, before
// the first assignment changes what it reads; each assignment then reads the ones before it, as in
// the branch. It applies when the branch has no else, at most MAX_ASSIGNS assignments and nothing
// else, and no assigned value reads memory or divides integers (a select evaluates both arms).
import { assign, let_, select, sym, v } from '../loop/build.js';
import { mapBlocks, walkExpr } from '../loop/mapLoop.js';
import type { Kernel, LExpr, LStmt } from '../loop/types.js';

const MAX_ASSIGNS = 4;

const safe = (e: LExpr): boolean => {
  let ok = true;
  walkExpr(e, (x) => void (ok &&= x.kind !== 'load' && x.kind !== 'length' && !(x.kind === 'binary' && ['floordiv', 'ceildiv', 'mod', 'rem'].includes(x.op))));
  return ok;
};

function convert(s: LStmt): LStmt[] | undefined {
  if (s.kind !== 'if' || s.else.length || !s.then.length || s.then.length > MAX_ASSIGNS) return undefined;
  if (!s.then.every((t) => t.kind === 'assign' && safe(t.value))) return undefined;
  const cond = sym('$c', 'bool');
  return [let_(cond, s.cond), ...s.then.map((t) => (t.kind === 'assign' ? assign(t.v, select(v(cond), t.value, v(t.v))) : t))];
}

export function ifToSelect(k: Kernel): Kernel {
  if (k.runs !== 'wasm') return k;
  const body = mapBlocks(k.body, (list) => (list.some((s) => convert(s)) ? list.flatMap((s) => convert(s) ?? [s]) : list));
  return body === k.body ? k : { ...k, body };
}
