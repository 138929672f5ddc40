// numericCheck: the gradient kernels compiled in the page against central differences of the compiled
// forward kernel, on random data — the check a reader can run on any program they type.
//
// Worked example: for `Y[i,j] = A[i,k]*X[k,j] + B[i,j]` at sizes I=3, J=3, K=3 the kernels' backward
// gives dA, dX, dB for a random seed dY; for each input element x the page also computes
//   (p(x + h) − p(x − h)) / 2h,   p = Σ dY ⊙ Y (the forward kernel, the same seed),
// and reports per gradient the largest |backward − difference| over max(1, the gradient's largest
// magnitude). Float64 differences agree to about 1e-9 here; the check passes below TOLERANCE.
import { compile, seededRandom, type Kernel, type Program } from '../../src/index.js';

/** a size the program leaves open gets this value in the check */
export const DEFAULT_SIZE = 3;
/** elements of all tensors together: above this the page would stall, so the check refuses */
export const MAX_ELEMENTS = 200_000;
/** input elements perturbed per input (spread evenly over larger inputs) */
export const MAX_PROBES = 48;
export const TOLERANCE = 1e-6;

export interface CheckRow {
  readonly gradient: string;
  /** elements compared / elements of the input */
  readonly checked: number;
  readonly of: number;
  readonly maxAbsError: number;
  /** maxAbsError / max(1, largest |gradient element|) */
  readonly error: number;
  readonly pass: boolean;
}

export interface CheckReport {
  readonly rows: readonly CheckRow[];
  readonly maxError: number;
  readonly pass: boolean;
  readonly sizes: Readonly<Record<string, number>>;
}

/** The size values for a program: the user's, else the program's default, else DEFAULT_SIZE. */
export function sizesFor(program: Program, given: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(program.sizes.map((s) => [s.name, Object.hasOwn(given, s.name) ? given[s.name]! : (s.default ?? DEFAULT_SIZE)]));
}

const elements = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Which elements of an n-element input to perturb: all of a small one, MAX_PROBES spread over a large one. */
export function probePositions(n: number, max = MAX_PROBES): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: max }, (_, k) => Math.floor(((k + 0.5) * n) / max));
}

/** The check of a program's kernels compiled in the page at these sizes. */
export function numericCheck(source: string, sizes: Readonly<Record<string, number>>, seed = 1): CheckReport {
  return checkKernel(compile(source, { sizes: { ...sizes }, dtype: 'float64' }), seed);
}

/** The check of any kernel with compile()'s interface: its backward against differences of its forward. */
export function checkKernel(kernel: Kernel, seed = 1): CheckReport {
  const total = Object.values(kernel.shapes).reduce((a, s) => a + elements(s), 0);
  if (total > MAX_ELEMENTS)
    throw new RangeError(`at these sizes the tensors hold ${total.toLocaleString('en')} elements; the check in the page takes at most ${MAX_ELEMENTS.toLocaleString('en')}: choose smaller sizes`);
  const rand = seededRandom(seed);
  const random = (n: number) => Float64Array.from({ length: n }, () => 2 * rand() - 1);
  const inputs = Object.fromEntries(kernel.inputs.map((name) => [name, random(elements(kernel.shapes[name]!))]));
  const seeds = Object.fromEntries(kernel.outputs.map((name) => [`d${name}`, random(elements(kernel.shapes[name]!))]));
  const analytic = kernel.backward(inputs, seeds);
  /** Σ over outputs of seed ⊙ output: its gradient is what backward computes for these seeds */
  const probe = () => {
    const out = kernel.forward(inputs);
    let sum = 0;
    for (const name of kernel.outputs) {
      const y = out[name]!;
      const s = seeds[`d${name}`]!;
      for (let i = 0; i < y.length; i++) sum += s[i]! * y[i]!;
    }
    return sum;
  };
  const rows = kernel.inputs.map((name): CheckRow => {
    const x = inputs[name]!;
    const got = analytic[`d${name}`]!;
    const positions = probePositions(x.length);
    let maxAbsError = 0;
    let scale = 1;
    for (const i of positions) {
      const save = x[i]!;
      // the step balances truncation (h²) against rounding (ε/h) in float64
      const h = 1e-5 * Math.max(1, Math.abs(save));
      x[i] = save + h;
      const up = probe();
      x[i] = save - h;
      const down = probe();
      x[i] = save;
      const numeric = (up - down) / (2 * h);
      // NaN must fail the check, and Math.max would let it through as NaN only sometimes
      const diff = Math.abs(got[i]! - numeric);
      maxAbsError = Number.isNaN(diff) || Number.isNaN(maxAbsError) ? NaN : Math.max(maxAbsError, diff);
      scale = Math.max(scale, Math.abs(numeric), Math.abs(got[i]!));
    }
    const error = maxAbsError / scale;
    return { gradient: `d${name}`, checked: positions.length, of: x.length, maxAbsError, error, pass: error <= TOLERANCE };
  });
  const maxError = rows.reduce((m, r) => (Number.isNaN(r.error) || Number.isNaN(m) ? NaN : Math.max(m, r.error)), 0);
  return { rows, maxError, pass: rows.length > 0 && rows.every((r) => r.pass), sizes: kernel.sizes };
}
