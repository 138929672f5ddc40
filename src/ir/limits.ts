// limits: what keeps a program from a stranger from costing unbounded time or memory. Program text
// is untrusted input (a playground opens programs others share), so every cost that grows faster than
// the text — inlining, nesting, the gradients, the interpreter's tensors and loops — has a bound, and
// crossing it is a located error (`too-large`, or an InputError for evaluate's inputs), never a hang,
// an out-of-memory or a stack overflow. docs/language.md lists them under "Limits".
//
// Worked example: `def f0(x) = sin(x)*x`, `def f1(x) = f0(f0(x))` … `def f5(x) = f4(f4(x))`,
// `y = f5(a)` is 141 characters whose inlined right side would have 3·2³² − 2 nodes. check computes
// that from the defs (inlinedSize.ts, a few operations a def) before building anything, and fails at
// the call:
//   <program>:7:5: error: program too large: f5(…) would inline to 12,884,901,886 nodes; a program may have 1,000,000
// Each limit can be raised through `limits` (check, derive, evaluate): `{ maxNodes: 5_000_000 }`.
// Raising maxNesting or maxDepth far past the defaults risks overflowing the stack.

export interface Limits {
  /** characters (UTF-16 code units) of program text */
  readonly maxSourceLength?: number;
  /** levels of nesting the parser follows: parentheses, calls, subscripts, reduction bodies */
  readonly maxNesting?: number;
  /** levels of an expression after def functions are inlined (each operator, call or read is one) */
  readonly maxDepth?: number;
  /** expression nodes of the whole program after def functions are inlined, and of all the
   *  gradients derive writes for it */
  readonly maxNodes?: number;
  /** evaluate: elements of all the tensors of the program together (inputs, outputs, gradients) */
  readonly maxElements?: number;
  /** evaluate: expression nodes evaluated, counting each once per element and per reduction step */
  readonly maxOperations?: number;
}

export const DEFAULT_LIMITS: Required<Limits> = {
  maxSourceLength: 1_000_000,
  maxNesting: 200,
  // the passes recurse over expressions; their stack holds about 1 000 levels of a gradient, and a
  // gradient nests up to about twice as deep as its program
  maxDepth: 400,
  maxNodes: 1_000_000,
  // 80 MB of float64
  maxElements: 10_000_000,
  // about 10 s of the reference interpreter
  maxOperations: 1_000_000_000,
};

/** The defaults with the given limits in place of theirs. */
export const limitsWith = (given: Limits = {}): Required<Limits> => {
  const out = { ...DEFAULT_LIMITS };
  for (const k of Object.keys(out) as (keyof Limits)[]) {
    const v = given[k];
    if (v !== undefined) {
      if (!(typeof v === 'number' && v >= 0 && !Number.isNaN(v))) throw new RangeError(`limits.${k} must be a number ≥ 0 (Infinity for none), got ${String(v)}`);
      out[k] = v;
    }
  }
  return out;
};

/** Limits for a program deltagrad wrote itself (a derived program, re-checked to run it): its size and
 *  depth follow from the program it was derived from, which the defaults already bounded. */
export const DERIVED_LIMITS: Limits = { maxSourceLength: Infinity, maxNodes: Infinity, maxNesting: 1_000, maxDepth: 1_200 };
