// emitTs: a program's kernels → one TypeScript module (ts-morph builds it, prettier formats it).
//
// Worked example: for `Y[i,j] = A[i,k]*X[k,j] + B[i,j]` the module exports
//   forward_Y(t: { A: Float64Array; X: Float64Array; B: Float64Array; Y: Float64Array }, s: { I: number; J: number; K: number }): void
//   backward_dA(…), backward_dX(…), backward_dB(…)
//   forward(t, s), backward(t, s)   — every statement kernel in order
//   shapes(s)                        — the shape of every tensor for given sizes
//   program                          — names of inputs, outputs, seeds, gradients and sizes
// Kernels are size-generic: sizes are arguments, so one module serves every size.
// emitProgram formats through @prettier/sync (blocking); emitProgramAsync through a worker of our
// own (formatWorker.mjs), which loads prettier while this thread loads ts-morph and derives.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { FunctionDeclarationStructure, StatementStructures } from 'ts-morph';
import { LINE_BREAK } from '../ir/errors.js';
import type { Program, SizeExpr, Statement } from '../ir/types.js';
import type { GradientStatement } from '../diff/differentiate.js';
import { renderLoops, type LoweredKernel } from './loops.js';
import { printStatement } from '../ir/print.js';
import { argmaxName, lowerStatement, preludeFor, sizeCode, type LowerContext } from './lowerToLoops.js';
import { renameClashingNames } from './renameClashingNames.js';
import { findInPlace } from './findInPlace.js';
import { tensorsRead } from '../ir/exprs.js';
import { assertSafeCode, commentText, isAsciiIdentifier, literal, propertyName, stringLiteral } from './safeText.js';

export interface EmitOptions {
  readonly dtype?: 'float32' | 'float64';
  /** false: the naive loop nest (no bounds from padding, no running offsets, no GEMM), for comparison */
  readonly optimize?: boolean;
  /** false: matmul-shaped kernels in plain JavaScript instead of a WebAssembly SIMD micro-kernel */
  readonly simd?: boolean;
}

/** Prettier options, pinned so the emitted bytes never change with a user's configuration. */
// babel-ts is prettier's other TypeScript parser: it formats these modules in about half the time of
// `typescript`, to the same bytes (compared on every layer at both dtypes, optimized and naive, and
// on 800 random programs of the property tests).
// quoteProps 'preserve': a key stays quoted as the emitter wrote it (non-ASCII names stay strings, never identifiers)
export const PRETTIER_OPTIONS = { parser: 'babel-ts', printWidth: 120, singleQuote: true, trailingComma: 'all', semi: true, tabWidth: 2, quoteProps: 'preserve' } as const;

// ts-morph (it loads the TypeScript compiler) and prettier are loaded on first use, so importing
// the emitter — as `derive` and `import 'deltagrad'` do — costs nothing. require, not import():
// a CommonJS package imported from ESM is lexed for its export names first.
const requireCjs = createRequire(import.meta.url);
let tsMorph: typeof import('ts-morph') | undefined;
export const morph = (): typeof import('ts-morph') => (tsMorph ??= requireCjs('ts-morph') as typeof import('ts-morph'));

let prettierSync: { format(text: string, options: object): string } | undefined;

/** Prettier-format TypeScript with the pinned options. Blocks on @prettier/sync's worker (prettier 3
 * is async-only); that worker starts, and loads prettier, on the first call. */
export function formatTs(text: string): string {
  prettierSync ??= requireCjs('@prettier/sync') as { format(text: string, options: object): string };
  return prettierSync.format(text, PRETTIER_OPTIONS);
}

// The async path formats in a worker of our own (formatWorker.mjs), started with an empty execArgv
// so that prettier loads without the parent's TypeScript loader, and running while this thread
// builds the next module. The worker is unref'd whenever nothing is pending: it never keeps the
// process alive.
let worker: Worker | undefined;
const pending = new Map<number, { resolve: (text: string) => void; reject: (e: Error) => void }>();
let nextId = 0;

function formatWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL('./formatWorker.mjs', import.meta.url), { execArgv: [], workerData: { options: PRETTIER_OPTIONS } });
  w.on('message', (m: { id: number; text?: string; error?: string }) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (!pending.size) w.unref();
    if (m.error !== undefined) p?.reject(new Error(`prettier: ${m.error}`));
    else p?.resolve(m.text!);
  });
  const fail = (e: Error) => {
    for (const p of pending.values()) p.reject(e);
    pending.clear();
    if (worker === w) worker = undefined;
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`the prettier worker exited (code ${code})`)));
  w.unref();
  return (worker = w);
}

/** Start the formatting worker now, so that it loads and warms prettier while this thread works;
 * formatTsAsync would start it anyway, but only once the first module is built. */
export function startFormatter(): void {
  formatWorker();
}

/** The same bytes as formatTs, formatted in the worker. */
export function formatTsAsync(text: string): Promise<string> {
  const w = formatWorker();
  return new Promise((resolve, reject) => {
    const id = nextId++;
    if (!pending.size) w.ref();
    pending.set(id, { resolve, reject });
    w.postMessage({ id, text });
  });
}

export interface ModuleInfo {
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly intermediates: readonly string[];
  /** upstream gradients backward reads: dY for every output */
  readonly seeds: readonly string[];
  /** gradients backward writes: intermediates first, then dX for every input */
  readonly gradients: readonly string[];
  /** arg-max records forward writes and backward reads */
  readonly records: readonly string[];
  readonly sizes: readonly string[];
  /** default values from `dims` */
  readonly defaults: Readonly<Record<string, number>>;
  /** output or intermediate → the inputs whose arrays forward may write it into (findInPlace.ts) */
  readonly inPlace: Readonly<Record<string, readonly string[]>>;
  /** gradient → the inputs its kernel reads (a backward after an in-place forward must not read an overwritten one) */
  readonly gradientReads: Readonly<Record<string, readonly string[]>>;
}

export interface EmittedModule {
  readonly text: string;
  readonly info: ModuleInfo;
  readonly kernels: readonly LoweredKernel[];
}

function shapeOfFactory(p: Program): (t: string) => readonly SizeExpr[] {
  const info = new Map(p.tensors.map((t) => [t.name, t.shape] as const));
  return (t) => {
    const direct = info.get(t);
    if (direct) return direct;
    if (t.startsWith('d') && info.has(t.slice(1))) return info.get(t.slice(1))!;
    throw new Error(`internal: no shape for ${t}`);
  };
}

/** The module before formatting: ts-morph prints its structures straight to text (no project, no parse). */
export interface BuiltModule {
  readonly raw: string;
  readonly info: ModuleInfo;
  readonly kernels: readonly LoweredKernel[];
}

/** A name as a property of a type or a destructuring pattern: quoted when it is not an identifier (`'x²'`). */
const propName = propertyName;

export function buildModule(p: Program, grads: readonly GradientStatement[], opts: EmitOptions = {}): BuiltModule {
  const { printStructure, StructureKind, VariableDeclarationKind } = morph();
  const dtype = opts.dtype ?? 'float64';
  const optimize = opts.optimize ?? true;
  // the kernels are lowered from the program with safe local names; `key` gives back the user's
  const local = renameClashingNames(p, grads);
  const { key } = local;
  const q = local.program;
  const defaults = new Map<string, number>();
  for (const s of q.sizes) if (s.default !== undefined) defaults.set(s.name, s.default);
  const recordsArgmax = new Map<string, Statement>();
  if (optimize) for (const s of q.statements) if (s.rhs.kind === 'reduce' && (s.rhs.op === 'max' || s.rhs.op === 'min')) recordsArgmax.set(s.tensor, s);
  const shapeOf = shapeOfFactory(p);
  const ctx: LowerContext = { shapeOf: local.renamed ? (t) => shapeOf(key(t)).map(local.size) : shapeOf, recordsArgmax, defaults, program: q };
  const lowerOpts = { optimize, dtype, simd: opts.simd ?? true } as const;
  // forward_class is a fine name; forward_x² is not, and becomes forward_x__
  const kernelName = (prefix: string, tensor: string) => `${prefix}_${isAsciiIdentifier(`${prefix}_${tensor}`) ? tensor : local.local(tensor)}`;
  const lower = (original: Statement, s: Statement, prefix: string) => {
    const k = lowerStatement(s, kernelName(prefix, original.tensor), ctx, lowerOpts);
    // the doc comment shows the statement as the user wrote it
    return local.renamed ? { ...k, formula: printStatement(original) } : k;
  };
  const kernels = [
    ...p.statements.map((s, i) => lower(s, q.statements[i]!, 'forward')),
    ...grads.map((g, i) => lower(g.statement, local.grads[i]!.statement, 'backward')),
  ];
  const arr = dtype === 'float32' ? 'Float32Array' : 'Float64Array';
  const fns = new Set(kernels.flatMap((k) => [...k.fns]));
  const allSizes = p.sizes.map((s) => s.name);

  const inputs = new Set(p.tensors.filter((t) => t.role === 'input').map((t) => t.name));
  const info: ModuleInfo = {
    inputs: p.tensors.filter((t) => t.role === 'input').map((t) => t.name),
    outputs: p.tensors.filter((t) => t.role === 'output').map((t) => t.name),
    intermediates: p.tensors.filter((t) => t.role === 'intermediate').map((t) => t.name),
    seeds: p.tensors.filter((t) => t.role === 'output').map((t) => `d${t.name}`),
    gradients: grads.map((g) => g.statement.tensor),
    records: [...recordsArgmax.keys()].map((t) => argmaxName(key(t))),
    sizes: allSizes,
    defaults: Object.fromEntries(p.sizes.filter((z) => z.default !== undefined).map((z) => [z.name, z.default!])),
    inPlace: findInPlace(p),
    gradientReads: Object.fromEntries(grads.map((g) => [g.statement.tensor, tensorsRead(g.statement.rhs).filter((t) => inputs.has(t))])),
  };

  const header = [
    '// Generated by deltagrad — do not edit. Regenerate from the program below.',
    ...p.source
      .trimEnd()
      .split(LINE_BREAK)
      .map((l) => `//   ${commentText(l)}`.trimEnd()),
    '/* eslint-disable */',
  ];
  const statements: (string | StatementStructures)[] = [...preludeFor(fns)];
  const sizesType = (names: readonly string[]) => (names.length ? `{ ${names.map((n) => `readonly ${propName(n)}: number`).join('; ')} }` : 'Record<string, never>');
  /** `class: class_` takes t.class into the local class_; a name that is its own key stays `Y` */
  const binding = (name: string) => (key(name) === name ? name : `${propName(key(name))}: ${name}`);
  const structures: FunctionDeclarationStructure[] = kernels.map((k) => {
    const tensorType = `{ ${k.tensors.map((t) => `readonly ${propName(key(t.name))}: ${t.type === 'int32' ? 'Int32Array' : arr}`).join('; ')} }`;
    const destructure = [
      k.tensors.length ? `const { ${k.tensors.map((t) => binding(t.name)).join(', ')} } = t;` : '',
      k.sizes.length ? `const { ${k.sizes.map(binding).join(', ')} } = s;` : '',
    ].filter(Boolean);
    return {
      kind: StructureKind.Function,
      name: k.name,
      isExported: true,
      docs: [commentText(`${k.formula}`) + `\n\nwrites ${commentText(k.tensors.filter((t) => t.role === 'write').map((t) => key(t.name)).join(', '))}`],
      parameters: [
        { name: 't', type: tensorType },
        { name: 's', type: sizesType(k.sizes.map(key)) },
      ],
      returnType: 'void',
      statements: [...destructure, ...renderLoops(k.body)],
    };
  });
  statements.push(...structures);
  const allTensorsType = (names: readonly string[]) =>
    `{ ${names.map((n) => `readonly ${propName(n)}: ${info.records.includes(n) ? 'Int32Array' : arr}`).join('; ')} }`;
  const fwdNames = [...info.inputs, ...info.intermediates, ...info.outputs, ...info.records];
  const bwdNames = [...fwdNames, ...info.seeds, ...info.gradients];
  const sizesAll = sizesType(allSizes);
  statements.push({
    kind: StructureKind.Function,
    name: 'forward',
    isExported: true,
    docs: ['Runs every forward statement in order; `t` holds the inputs and preallocated outputs.'],
    parameters: [
      { name: 't', type: allTensorsType(fwdNames) },
      { name: 's', type: sizesAll },
    ],
    returnType: 'void',
    statements: kernels.filter((k) => k.name.startsWith('forward_')).map((k) => `${k.name}(t, s);`),
  });
  statements.push({
    kind: StructureKind.Function,
    name: 'backward',
    isExported: true,
    docs: ['Runs every gradient statement in order, after forward; `t` also holds the seeds and preallocated gradients.'],
    parameters: [
      { name: 't', type: allTensorsType(bwdNames) },
      { name: 's', type: sizesAll },
    ],
    returnType: 'void',
    statements: kernels.filter((k) => k.name.startsWith('backward_')).map((k) => `${k.name}(t, s);`),
  });
  const used = new Set<string>();
  // a literal's `__proto__: …` would set its prototype; `['__proto__']: …` is a property
  const literalKey = (name: string) => (name === '__proto__' ? `['__proto__']` : propName(name));
  const shapeLines = q.tensors.map((t) => `${literalKey(key(t.name))}: [${t.shape.map((d) => sizeCode(d, used)).join(', ')}]`);
  statements.push({
    kind: StructureKind.Function,
    name: 'shapes',
    isExported: true,
    docs: ['The shape of every tensor of the program for the given sizes.'],
    parameters: [{ name: 's', type: sizesAll }],
    returnType: `Record<${p.tensors.map((t) => stringLiteral(t.name)).join(' | ') || 'string'}, number[]>`,
    statements: [used.size || allSizes.length ? `const { ${q.sizes.map((z) => binding(z.name)).join(', ')} } = s;` : '', `return { ${shapeLines.join(', ')} };`].filter(Boolean),
  });
  statements.push({
    kind: StructureKind.VariableStatement,
    isExported: true,
    declarationKind: VariableDeclarationKind.Const,
    declarations: [{ name: 'program', initializer: literal({ ...info, dtype }) + ' as const' }],
    docs: ['What the module computes: tensor names by role, and the sizes its kernels take.'],
  });
  // The header is joined outside the structure: the printer puts a blank line before a function
  // even after a comment, and the committed modules have none there.
  const raw = `${header.join('\n')}\n${printStructure({ kind: StructureKind.SourceFile, statements }, { useSingleQuote: true })}`;
  return { raw, info, kernels };
}

/** A program's kernels as one prettier-formatted TypeScript module. */
export function emitProgram(p: Program, grads: readonly GradientStatement[], opts: EmitOptions = {}): EmittedModule {
  const { raw, ...rest } = buildModule(p, grads, opts);
  return { text: assertSafeCode(formatTs(raw)), ...rest };
}

/** emitProgram without blocking: the same bytes, formatted in the worker while this thread goes on. */
export async function emitProgramAsync(p: Program, grads: readonly GradientStatement[], opts: EmitOptions = {}): Promise<EmittedModule> {
  startFormatter();
  const { raw, ...rest } = buildModule(p, grads, opts);
  return { text: assertSafeCode(await formatTsAsync(raw)), ...rest };
}
