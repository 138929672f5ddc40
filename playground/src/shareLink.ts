// shareLink: the page's state in the URL fragment, and back. The fragment never reaches a server, and
// reading one is reading untrusted input: every field is checked, a bad one is reported and skipped,
// and nothing here throws.
//
// Worked example: the state { source: 'f = (x+y)*z', point: { x: -2, y: 5, z: -4 } } is the fragment
//   src=f+%3D+%28x%2By%29*z&at=x%3A-2%2Cy%3A5%2Cz%3A-4
// and decodeState of that fragment gives the same state back with no problems; decodeState('sizes=N:-1')
// gives no sizes and the problem "sizes: N:-1 is not name:whole number (the size is ignored)".

export type KernelTarget = 'ts' | 'js';

export interface PageState {
  readonly source: string;
  /** the inputs to differentiate by; undefined: every input */
  readonly wrt?: readonly string[];
  /** sizes for the numeric check (those the program leaves open or the user changed) */
  readonly sizes: Readonly<Record<string, number>>;
  /** scalar inputs for "evaluate at a point" */
  readonly point: Readonly<Record<string, number>>;
  readonly kernel: KernelTarget;
  /** show the Hessian blocks (when the library has them) */
  readonly hessian: boolean;
}

export const EMPTY_EXTRAS: Omit<PageState, 'source'> = { sizes: {}, point: {}, kernel: 'ts', hessian: false };

const NAME = /^[\p{L}_][\p{L}\p{N}_]*$/u;
const FIELDS = ['src', 'wrt', 'sizes', 'at', 'kernel', 'hessian'] as const;
/** a link longer than this is not read (a browser keeps URLs of a few megabytes; a program is never that) */
export const MAX_FRAGMENT = 2_000_000;

const pairs = (r: Readonly<Record<string, number>>) =>
  Object.entries(r)
    .map(([k, v]) => `${k}:${v}`)
    .join(',');

/** The fragment (without `#`) for a state; defaults are left out, so a plain program gives `src=…` only. */
export function encodeState(s: PageState): string {
  const q = new URLSearchParams();
  q.set('src', s.source);
  if (s.wrt) q.set('wrt', s.wrt.join(','));
  if (Object.keys(s.sizes).length) q.set('sizes', pairs(s.sizes));
  if (Object.keys(s.point).length) q.set('at', pairs(s.point));
  if (s.kernel !== 'ts') q.set('kernel', s.kernel);
  if (s.hessian) q.set('hessian', '1');
  return q.toString();
}

export interface Decoded {
  /** the fields the fragment gave well-formed */
  readonly state: Partial<PageState>;
  /** one sentence per field that was not (each skipped) */
  readonly problems: string[];
}

/** `N:2,C:3` into a record; each bad pair is a problem and is skipped. */
function readPairs(text: string, field: string, whole: boolean, problems: string[]): Record<string, number> {
  const out: [string, number][] = [];
  for (const part of text.split(',')) {
    if (!part) continue;
    const i = part.lastIndexOf(':');
    const name = part.slice(0, i);
    const value = Number(part.slice(i + 1));
    const ok = i > 0 && NAME.test(name) && part.slice(i + 1).trim() !== '' && (whole ? Number.isSafeInteger(value) && value >= 0 : Number.isFinite(value));
    if (!ok) problems.push(`${field}: ${shorten(part)} is not name:${whole ? 'whole number' : 'number'} (the ${field === 'sizes' ? 'size' : 'value'} is ignored)`);
    else if (out.some(([n]) => n === name)) problems.push(`${field}: ${name} is given twice (the first is kept)`);
    else out.push([name, value]);
  }
  // own keys only: a name like __proto__ is a key of the record, not its prototype
  return Object.fromEntries(out);
}

const shorten = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** The state a fragment gives (`#` optional). */
export function decodeState(fragment: string): Decoded {
  const problems: string[] = [];
  const text = fragment.startsWith('#') ? fragment.slice(1) : fragment;
  if (!text) return { state: {}, problems };
  if (text.length > MAX_FRAGMENT) return { state: {}, problems: [`the link is ${text.length.toLocaleString('en')} characters long, more than a program link can be: it was not read`] };
  let q: URLSearchParams;
  try {
    q = new URLSearchParams(text);
  } catch {
    return { state: {}, problems: ['the link could not be read as name=value fields: it was ignored'] };
  }
  const state: { -readonly [K in keyof PageState]?: PageState[K] } = {};
  for (const key of new Set(q.keys())) {
    if (!(FIELDS as readonly string[]).includes(key)) problems.push(`the link has a field ${shorten(key)} this page does not know (ignored)`);
    else if (q.getAll(key).length > 1) problems.push(`the link gives ${key} more than once (the first is kept)`);
  }
  const src = q.get('src');
  if (src !== null) state.source = src;
  const wrt = q.get('wrt');
  if (wrt !== null) {
    const names = wrt.split(',').filter(Boolean);
    const bad = names.filter((n) => !NAME.test(n));
    if (bad.length) problems.push(`wrt: ${bad.map(shorten).join(', ')} ${bad.length > 1 ? 'are not names' : 'is not a name'} (ignored)`);
    state.wrt = names.filter((n) => NAME.test(n));
  }
  const sizes = q.get('sizes');
  if (sizes !== null) state.sizes = readPairs(sizes, 'sizes', true, problems);
  const at = q.get('at');
  if (at !== null) state.point = readPairs(at, 'at', false, problems);
  const kernel = q.get('kernel');
  if (kernel !== null) {
    if (kernel === 'ts' || kernel === 'js') state.kernel = kernel;
    else problems.push(`kernel: ${shorten(kernel)} is neither ts nor js (TypeScript is shown)`);
  }
  const hessian = q.get('hessian');
  if (hessian !== null) {
    if (hessian === '1' || hessian === '0') state.hessian = hessian === '1';
    else problems.push(`hessian: ${shorten(hessian)} is neither 1 nor 0 (ignored)`);
  }
  return { state, problems };
}
