// features: what the library in this bundle can do, asked of the library itself — so the page grows
// with it (matrix-notation examples, the Hessian toggle) without a change here.
//
// Worked example: while `derive('f = x*x', { order: 2 })` returns no `hessians`, has('second-order')
// is false and the page shows no Hessian toggle; the day derive returns them, the toggle appears.
import { derive, parse } from '../../src/index.js';

export type Feature = 'matrix-notation' | 'second-order';

const PROBES: Record<Feature, () => boolean> = {
  // LANGUAGE.md v2: a declared vector without subscripts, and the transpose
  'matrix-notation': () => parse("x: [2]\nf = x'*x").statements.length > 0,
  // LANGUAGE.md v2: derive(src, { order: 2 }) adds `hessians`
  'second-order': () => {
    const r = derive('f = x*x', { order: 2 } as Parameters<typeof derive>[1]) as { hessians?: unknown };
    return typeof r.hessians === 'object' && r.hessians !== null;
  },
};

const known = new Map<Feature, boolean>();

/** Whether the library has the feature (asked once; a library without it throws or ignores the probe). */
export function has(feature: Feature): boolean {
  let yes = known.get(feature);
  if (yes === undefined) {
    try {
      yes = PROBES[feature]();
    } catch {
      yes = false;
    }
    known.set(feature, yes);
  }
  return yes;
}
