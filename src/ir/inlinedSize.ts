// inlinedSize: how many nodes an expression will have, and how deep it will nest, once its `def`
// calls are inlined — computed from the defs without inlining them, so check can refuse a program
// whose inlined form would not fit in memory before it builds any of it.
//
// Worked example: `def f0(x) = sin(x)*x` has 2 nodes of its own (* and sin) and uses x twice, so
// f0(u) has 2 + 2·|u| nodes; it is 2 + depth(u) deep (x sits under * and sin). Forms compose:
// `def f1(x) = f0(f0(x))` has 2 + 2·(2 + 2·|x|) = 6 + 4·|x| nodes. Five more doublings and `f5(a)`
// has 3·2³² − 2 nodes: found in a few operations per def, where inlining it took minutes and 4 GB.
import type { Ast } from './parse.js';

/** size = c + Σ_p k[p]·size(argument p), depth = max(d, max_p(e[p] + depth(argument p))): the
 *  nodes and levels of the expression once inlined, or of the work of inlining it where that is more
 *  (an argument the body ignores is still built, once). */
export interface InlinedForm {
  readonly c: number;
  readonly k: readonly number[];
  readonly d: number;
  /** −∞ where the parameter is not used */
  readonly e: readonly number[];
}

export interface DefShape {
  readonly params: readonly string[];
  readonly body: Ast;
}

/** A def call measured at statement level: its inlined size and depth, for pointing at the culprit. */
export interface MeasuredCall {
  readonly call: Extract<Ast, { k: 'call' }>;
  readonly size: number;
  readonly depth: number;
}

/** Sizes saturate here (2⁵³): 2^(2^24) nodes stays a number, and 0·∞ never makes a NaN. */
const CAP = Number.MAX_SAFE_INTEGER;
const add = (a: number, b: number) => Math.min(a + b, CAP);
const times = (a: number, b: number) => (a === 0 || b === 0 ? 0 : Math.min(a * b, CAP));

const constant = (n: number, size: number, depth: number): InlinedForm => ({
  c: size,
  k: Array<number>(n).fill(0),
  d: depth,
  e: Array<number>(n).fill(-Infinity),
});

const NONE: readonly number[] = [];
/** a number or a name, with no parameters: one node, one level */
const LEAF: InlinedForm = { c: 1, k: NONE, d: 1, e: NONE };

export class InlinedSizes {
  private readonly forms = new Map<string, InlinedForm>();

  /** Every def's form, callees first (an explicit stack: a chain of 10 000 defs must not overflow
   *  ours); a def on a cycle of calls counts its recursive call as a plain node (check refuses it). */
  constructor(defs: ReadonlyMap<string, DefShape>) {
    const state = new Map<string, 'open' | 'done'>();
    for (const root of defs.keys()) {
      if (state.has(root)) continue;
      const stack: { name: string; callees: string[] }[] = [];
      const open = (name: string) => {
        state.set(name, 'open');
        const callees: string[] = [];
        postOrder(defs.get(name)!.body, childrenOf, (a) => {
          if (a.k === 'call' && defs.has(a.name)) callees.push(a.name);
        });
        stack.push({ name, callees });
      };
      open(root);
      while (stack.length) {
        const top = stack[stack.length - 1]!;
        const next = top.callees.pop();
        if (next !== undefined) {
          if (!state.has(next)) open(next);
          continue;
        }
        stack.pop();
        const def = defs.get(top.name)!;
        this.forms.set(top.name, this.measure(def.body, def.params));
        state.set(top.name, 'done');
      }
    }
  }

  /** The inlined size and depth of a statement's right side, and of each def call in it (innermost first). */
  statement(a: Ast): { size: number; depth: number; calls: MeasuredCall[] } {
    // no defs, nothing inlined: the tree's own nodes and height (a frame and a form a node cost a
    // 10 000-term sum ~20 ms and its garbage)
    if (this.forms.size === 0) return { ...countNodes(a), calls: [] };
    const calls: MeasuredCall[] = [];
    const f = this.measure(a, [], calls);
    return { size: f.c, depth: f.d, calls };
  }

  private measure(root: Ast, params: readonly string[], calls?: MeasuredCall[]): InlinedForm {
    const n = params.length;
    // a node with children: one node and one level more than they have
    const node = (children: readonly InlinedForm[]): InlinedForm => {
      // a statement's right side has no parameters: two numbers a node, no arrays (10 000 terms)
      if (n === 0) {
        let c = 1;
        let d = 1;
        for (const f of children) {
          c = add(c, f.c);
          d = Math.max(d, f.d + 1);
        }
        return { c, k: NONE, d, e: NONE };
      }
      let out = constant(n, 1, 1);
      for (const f of children)
        out = {
          c: add(out.c, f.c),
          k: out.k.map((x, p) => add(x, f.k[p]!)),
          d: Math.max(out.d, f.d + 1),
          e: out.e.map((x, p) => Math.max(x, f.e[p]! + 1)),
        };
      return out;
    };
    return postOrder<InlinedForm>(root, childrenOf, (a, kids) => {
      switch (a.k) {
        case 'num':
          return n === 0 ? LEAF : constant(n, 1, 1);
        case 'name': {
          const p = params.indexOf(a.name);
          if (p < 0) return n === 0 ? LEAF : constant(n, 1, 1);
          const f = constant(n, 0, -Infinity);
          return { ...f, k: f.k.map((_, q) => (q === p ? 1 : 0)), e: f.e.map((_, q) => (q === p ? 0 : -Infinity)) };
        }
        case 'access':
        case 'unary':
        case 'transpose':
        case 'binary':
        case 'compare':
        case 'reduce':
          return node(kids);
        case 'call': {
          const g = this.forms.get(a.name);
          if (!g) return node(kids);
          // the body, with each parameter replaced by its argument's form; the checker builds an
          // argument even where the body does not use it, so it counts at least once, as deep as the call
          let out: InlinedForm = { c: g.c, k: Array<number>(n).fill(0), d: g.d, e: Array<number>(n).fill(-Infinity) };
          kids.slice(0, g.k.length).forEach((f, q) => {
            const copies = Math.max(1, g.k[q]!);
            const at = Math.max(0, g.e[q]!);
            out = {
              c: add(out.c, times(copies, f.c)),
              k: out.k.map((x, p) => add(x, times(copies, f.k[p]!))),
              d: Math.max(out.d, at + f.d),
              e: out.e.map((x, p) => Math.max(x, at + f.e[p]!)),
            };
          });
          if (calls && n === 0) calls.push({ call: a, size: out.c, depth: out.d });
          return out;
        }
        default: {
          const never: never = a;
          return never;
        }
      }
    });
  }
}

function childrenOf(a: Ast): readonly Ast[] {
  switch (a.k) {
    case 'num':
    case 'name':
      return [];
    case 'access':
      return a.subs;
    case 'unary':
    case 'transpose':
      return [a.arg];
    case 'binary':
    case 'compare':
      return [a.a, a.b];
    case 'call':
      return a.args;
    case 'reduce':
      return [...a.heads.flatMap((h) => (h.range ? [h.range] : [])), ...(a.at ?? []), a.body];
    default: {
      const never: never = a;
      return never;
    }
  }
}

/** The nodes of a tree (as childrenOf lists them) and its height, with an explicit stack: what
 *  measure gives when no def is called (every leaf 1 node, 1 level; a node one more than its children). */
function countNodes(root: Ast): { size: number; depth: number } {
  const nodes: Ast[] = [root];
  const levels: number[] = [1];
  let size = 0;
  let depth = 0;
  while (nodes.length) {
    const a = nodes.pop()!;
    const level = levels.pop()!;
    size++;
    if (level > depth) depth = level;
    const ks = childrenOf(a);
    for (let i = 0; i < ks.length; i++) {
      nodes.push(ks[i]!);
      levels.push(level + 1);
    }
  }
  return { size: Math.min(size, CAP), depth };
}

/** Fold a tree bottom-up with an explicit stack: the parser builds chains of `-` and `/` iteratively,
 *  so a tree may be thousands of levels deeper than the parser's nesting limit, and measuring it is
 *  what finds that out. */
function postOrder<R>(root: Ast, kids: (a: Ast) => readonly Ast[], combine: (a: Ast, results: R[]) => R): R {
  // each node's children listed once, not at every return to it
  const frame = (a: Ast) => ({ a, ks: kids(a), next: 0, results: [] as R[] });
  const stack = [frame(root)];
  for (;;) {
    const top = stack[stack.length - 1]!;
    if (top.next < top.ks.length) {
      stack.push(frame(top.ks[top.next++]!));
      continue;
    }
    const r = combine(top.a, top.results);
    stack.pop();
    if (!stack.length) return r;
    stack[stack.length - 1]!.results.push(r);
  }
}
