// splitParallelLoop: the `parallel` loops a CPU lowering marked → one loop whose iterations are
// shared out between worker threads, or (one thread) plain serial loops. It runs first, so every
// later pass sees serial loops only.
//
// A lowering marks a loop `parallel` when its iterations write disjoint elements of the kernel's
// tensors and read none that another iteration writes: the output loops of a per-element kernel,
// the batch loops and the column- and row-block loops of a GEMM (gemmBlocks.ts). Scratch memory is
// per worker (each worker instantiates the module itself), so packing buffers never race.
//
// Worked example, the GEMM's row-block loop with threads (part p of P, sizes `#part`, `#parts`):
//   for ic in [0, M) by 64 parallel          →   let $n = ⌈(M − 0) / 64⌉
//                                                for ic in [0 + 64·⌊$n·p/P⌋, min(M, 0 + 64·⌊$n·(p+1)/P⌋)) by 64
// Each iteration keeps its own summation order, so the results are bitwise those of one thread.
// Of several marked loops the one whose two halves are the most even (at the sizes compile was
// given) is split, then the one with the most iterations — the conv forward's 50 column blocks
// rather than its one row block; ties go outward. A WebAssembly kernel is split the same way (its
// share runs over the threads' shared memory, target/wasmKernels.ts).
// A tensor written outside the split loop after it (a GEMM's K = 0 case, which writes when the
// blocks write nothing) is written by part 0 alone; a kernel that writes a tensor before the loop
// (which the loop might then overwrite) is not split, and runs on one worker.
import { add, buffer, c, ceildiv, eq, floordiv, ge, let_, min, mul, sub, sym, v } from '../loop/build.js';
import { mapBlocks, walkStmts } from '../loop/mapLoop.js';
import { PART_KEY, PARTS_KEY, type Buf, type Kernel, type LExpr, type LStmt, type Sym } from '../loop/types.js';

type For = Extract<LStmt, { kind: 'for' }>;

export { PART_KEY, PARTS_KEY };

/** Every `parallel` loop made serial (one thread, and every target but the threaded one). */
export function serialiseParallel(k: Kernel): Kernel {
  const body = mapBlocks(k.body, (list) => (list.some(isParallel) ? list.map((s) => (isParallel(s) ? { ...s, loop: 'serial' as const } : s)) : list));
  return body === k.body ? k : { ...k, body };
}

const isParallel = (s: LStmt): s is For => s.kind === 'for' && s.loop === 'parallel';

/** The key of the claim words a threaded module's kernels share their loops by, one per kernel. */
export const CLAIMS_KEY = '#claims';

/** The most iterations a claimed loop may have: 2 parts count in 16 bits each (target/module.ts). */
const MAX_CLAIMED = 4096;

/** The kernel with one parallel loop split into the share of part `#part` of `#parts`, marked
 * `threads: 'split'`; or serialised, unsplit, when it has none it may split. With `claimSlot` (a
 * GEMM: its blocks are few and long, and a share that runs slow — a core the machine lends to
 * another — would leave the other thread waiting at the barrier), the loop's iterations are not
 * fixed shares but claimed as the threads run, through the claim word `#claims`[claimSlot]. */
export function splitParallelLoop(k: Kernel, sizes: ReadonlyMap<string, number>, claimSlot?: number): Kernel {
  const { loop: chosen, trips } = chooseLoop(k, sizes) ?? {};
  const plain = serialiseParallel(k);
  if (!chosen || carriesState(chosen)) return plain;
  const writes = new Set(k.buffers.filter((b) => b.role === 'write').map((b) => b.buf));
  // a GEMM's lowering may already read #parts (its block widths, gemmBlocks.ts)
  const given = (key: string) => k.sizes.find((z) => z.key === key)?.v;
  const part = given(PART_KEY) ?? sym('$part', 'i32');
  const parts = given(PARTS_KEY) ?? sym('$parts', 'i32');
  let before = false;
  // claimed only where the loop runs once a call: inside another loop (a GEMM's K slices) each
  // iteration would take a new share, and a block could change threads between two of its slices
  const once = chosen !== undefined && outsideLoops(k.body, chosen);
  const claims = claimSlot !== undefined && once && trips !== undefined && trips >= 2 && trips <= MAX_CLAIMED ? buffer('$claims', 'i32') : undefined;
  /** the list with the chosen loop split, tensor writes after it guarded; undefined: not in it */
  const rewrite = (list: readonly LStmt[]): LStmt[] | undefined => {
    const at = list.findIndex((s) => contains(s, chosen));
    if (at < 0) return undefined;
    if (list.slice(0, at).some((s) => writesAny(s, writes))) before = true;
    const after = list.slice(at + 1).map((s): LStmt => (writesAny(s, writes) ? { kind: 'if', cond: eq(v(part), c(0)), then: [s], else: [] } : s));
    return [...list.slice(0, at), ...descend(list[at]!), ...after];
  };
  const descend = (s: LStmt): LStmt[] => {
    if (s === chosen) return claims ? claimed(chosen, claims, claimSlot!, part, parts) : share(chosen, part, parts);
    switch (s.kind) {
      case 'for':
      case 'block':
        return [{ ...s, body: rewrite(s.body)! }];
      case 'if': {
        const inThen = s.then.some((x) => contains(x, chosen));
        const guard = (list: readonly LStmt[]) => list.map((x): LStmt => (writesAny(x, writes) ? { kind: 'if', cond: eq(v(part), c(0)), then: [x], else: [] } : x));
        return [{ ...s, then: inThen ? rewrite(s.then)! : guard(s.then), else: inThen ? guard(s.else) : rewrite(s.else)! }];
      }
      default:
        throw new Error(`internal: a ${s.kind} statement holds a loop`);
    }
  };
  const body = rewrite(k.body)!;
  if (before) return plain;
  return serialiseParallel({
    ...k,
    ...(claims ? { buffers: [...k.buffers, { buf: claims, key: CLAIMS_KEY, role: 'read' as const }] } : {}),
    body,
    sizes: [...k.sizes, ...(given(PART_KEY) ? [] : [{ v: part, key: PART_KEY }]), ...(given(PARTS_KEY) ? [] : [{ v: parts, key: PARTS_KEY }])],
    threads: 'split',
  });
}

/** The loop's iterations [⌊n·p/P⌋, ⌊n·(p+1)/P⌋) of n, as a serial loop. */
function share(l: For, part: Sym, parts: Sym): LStmt[] {
  const n = sym('$trips', 'i32');
  const at = (q: LExpr) => add(l.lo, mul(l.step, floordiv(mul(v(n), q), v(parts))));
  return [
    let_(n, ceildiv(sub(l.hi, l.lo), l.step)),
    { kind: 'for', v: l.v, lo: at(v(part)), hi: min(l.hi, at(add(v(part), c(1)))), step: l.step, loop: 'serial', body: l.body },
  ];
}

/** The loop's iterations claimed one at a time as the threads run (2 threads: part 0 from the front,
 * part 1 from the back, so each keeps near its even half of the batch in its own cache), each
 * exactly once: for $t < $trips { let $i = claim(…); if ($i >= 0) { let v = lo + $i·step; body } }. */
function claimed(l: For, claims: Buf, slot: number, part: Sym, parts: Sym): LStmt[] {
  const n = sym('$trips', 'i32');
  const t = sym('$t', 'i32');
  const i = sym('$claimed', 'i32');
  const claim: LExpr = { kind: 'claim', ty: 'i32', buf: claims, args: [c(slot), v(part), v(parts), v(n)] };
  const body: LStmt[] = [let_(i, claim), { kind: 'if', cond: ge(v(i), c(0)), then: [let_(l.v, add(l.lo, mul(l.step, v(i)))), ...l.body], else: [] }];
  return [let_(n, ceildiv(sub(l.hi, l.lo), l.step)), { kind: 'for', v: t, lo: c(0), hi: v(n), step: c(1), loop: 'serial', body }];
}

/** The marked loop whose halves are the most even at the known sizes (two threads, the usual case:
 * a loop of 2 blocks of 4 rows before one of a block of 8 columns and one of 1), then the one with
 * the most iterations (ties, and unknown counts, outward). */
function chooseLoop(k: Kernel, sizes: ReadonlyMap<string, number>): { loop: For; trips: number | undefined } | undefined {
  const known = new Map<Sym, number>();
  for (const z of k.sizes) if (sizes.has(z.key)) known.set(z.v, sizes.get(z.key)!);
  for (const z of k.sizes) if (z.key === PARTS_KEY) known.set(z.v, 2);
  const lets = new Map<Sym, LExpr>();
  walkStmts(k.body, (s) => void (s.kind === 'let' && !s.mutable && lets.set(s.v, s.init)));
  let best: { loop: For; trips: number; uneven: number } | undefined;
  walkStmts(k.body, (s) => {
    if (!isParallel(s)) return;
    const lo = evaluate(s.lo, known, lets);
    const hi = evaluate(s.hi, known, lets);
    const step = evaluate(s.step, known, lets);
    const counted = lo !== undefined && hi !== undefined && step !== undefined && step > 0;
    const trips = counted ? Math.max(0, Math.ceil((hi - lo) / step)) : -1;
    // the larger half's share of the range, over an even half (the first ⌊n/2⌋ iterations are whole)
    const uneven = counted && hi > lo ? Math.max(step * Math.floor(trips / 2), hi - lo - step * Math.floor(trips / 2)) / ((hi - lo) / 2) : Infinity;
    const better = !best || uneven < best.uneven * 0.98 || (uneven <= best.uneven * 1.02 && trips > best.trips);
    if (better) best = { loop: s, trips, uneven };
  });
  return best && { loop: best.loop, trips: best.trips >= 0 ? best.trips : undefined };
}

/** The value of an integer expression over sizes and the immutable bindings before it, if it has one. */
function evaluate(e: LExpr, known: ReadonlyMap<Sym, number>, lets: ReadonlyMap<Sym, LExpr>, depth = 0): number | undefined {
  if (depth > 50) return undefined;
  const go = (x: LExpr) => evaluate(x, known, lets, depth + 1);
  switch (e.kind) {
    case 'const':
      return e.value;
    case 'var':
      return known.get(e.v) ?? (lets.has(e.v) ? go(lets.get(e.v)!) : undefined);
    case 'binary': {
      const a = go(e.a);
      const b = go(e.b);
      if (a === undefined || b === undefined) return undefined;
      const ops: Partial<Record<typeof e.op, (x: number, y: number) => number>> = {
        '+': (x, y) => x + y,
        '-': (x, y) => x - y,
        '*': (x, y) => x * y,
        floordiv: (x, y) => Math.floor(x / y),
        ceildiv: (x, y) => Math.ceil(x / y),
        min: Math.min,
        max: Math.max,
        '<': (x, y) => Number(x < y),
        '<=': (x, y) => Number(x <= y),
        '>': (x, y) => Number(x > y),
        '>=': (x, y) => Number(x >= y),
        '==': (x, y) => Number(x === y),
        '!=': (x, y) => Number(x !== y),
        '&&': (x, y) => Number(x !== 0 && y !== 0),
        '||': (x, y) => Number(x !== 0 || y !== 0),
      };
      const f = ops[e.op];
      return f && Number.isFinite(f(a, b)) ? f(a, b) : undefined;
    }
    case 'select': {
      const cond = go(e.cond);
      return cond === undefined ? undefined : go(cond ? e.then : e.else);
    }
    default:
      return undefined;
  }
}

/** Does an iteration assign a variable bound outside the loop (a running offset another iteration reads)? */
function carriesState(l: For): boolean {
  const own = new Set<Sym>([l.v]);
  walkStmts(l.body, (x) => void ((x.kind === 'let' || x.kind === 'for') && own.add(x.v)));
  let hit = false;
  walkStmts(l.body, (x) => void (x.kind === 'assign' && !own.has(x.v) && (hit = true)));
  return hit;
}

/** Is the target in the list outside every loop (in it, or in its ifs and blocks)? */
function outsideLoops(list: readonly LStmt[], target: LStmt): boolean {
  return list.some((s) => s === target || (s.kind === 'if' && (outsideLoops(s.then, target) || outsideLoops(s.else, target))) || (s.kind === 'block' && outsideLoops(s.body, target)));
}

function contains(s: LStmt, target: LStmt): boolean {
  let hit = false;
  walkStmts([s], (x) => void (x === target && (hit = true)));
  return hit;
}

/** Does the statement write one of the kernel's tensors? */
function writesAny(s: LStmt, writes: ReadonlySet<Buf>): boolean {
  let hit = false;
  walkStmts([s], (x) => {
    if ((x.kind === 'store' || x.kind === 'fill') && writes.has(x.buf)) hit = true;
    if (x.kind === 'copy' && writes.has(x.dst)) hit = true;
    if (x.kind === 'linalg' && writes.has(x.dst)) hit = true;
    // a view or choice aliasing a tensor would hide the writes: treat it as one
    if (x.kind === 'choose' && (writes.has(x.then) || writes.has(x.else))) hit = true;
  });
  return hit;
}
