// baseline: another checkout of deltagrad (`--baseline=DIR`, passed to the children as
// DELTAGRAD_BASELINE) whose kernels run beside this checkout's, in the same process, interleaved
// sample by sample — how a refactor of the code generator shows it is no slower.
//
// Worked example: npm run bench -- --baseline=../wt-old   adds, to every case with a deltagrad
// row, a `deltagrad-baseline` row of the same kernel as the old checkout emits it.
import { pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';

export const baselineDir = process.env.DELTAGRAD_BASELINE ? resolve(process.env.DELTAGRAD_BASELINE) : undefined;

type Emit = (source: string, opts: object) => string;
let baselineEmit: Emit | undefined;
let baselineGenerated: Record<string, unknown> | undefined;
if (baselineDir) {
  baselineEmit = ((await import(pathToFileURL(join(baselineDir, 'src/codegen/compile.ts')).href)) as { emit: Emit }).emit;
  baselineGenerated = (await import(pathToFileURL(join(baselineDir, 'generated/index.ts')).href)) as Record<string, unknown>;
}

/** While set, kernels() and the CNN's layers come from the baseline checkout. */
let active = false;
export const usingBaseline = (): boolean => active;

export function withBaseline<T>(f: () => T): T {
  if (!baselineDir) throw new Error('no baseline checkout (--baseline=DIR)');
  active = true;
  try {
    return f();
  } finally {
    active = false;
  }
}

export const baseline = { emit: () => baselineEmit!, generated: () => baselineGenerated! };
