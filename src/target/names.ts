// names: spellings for the loop IR's symbols and buffers, unique in a function and never a word the
// target reserves. A symbol's name is only a hint: `acc` stays `acc` when it is free, else becomes
// `acc2`, `acc3`, …; a hint that is no identifier of the target (`x²`, `é`) is made into one.
//
// Worked example (JavaScript): hints Y, n, n, $acc, class in one function spell Y, n, n2, $acc,
// class_ (a reserved word), and the same hints in the same order always give the same spellings.
import type { Buf, Sym } from '../loop/types.js';

export interface NameRules {
  /** words no spelling may be */
  readonly reserved: ReadonlySet<string>;
  /** may a spelling contain `$`? */
  readonly dollar: boolean;
}

export const JS_RESERVED = new Set([
  // reserved words (a module is strict code, so the strict-mode ones too) and strict mode's restricted bindings
  ...'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await eval arguments as async from get of set'.split(' '),
  // globals and helpers the emitted code reads
  ...'Math Infinity NaN undefined Object Array Number Error RangeError Float32Array Float64Array Int32Array Uint8Array WebAssembly parseInt globalThis'.split(' '),
  ...'relu sigmoid softplus elu max min'.split(' '),
  // the parameters of every kernel: the tensor record and the size record
  't', 's',
]);

export class Namer {
  private readonly used = new Set<string>();
  private readonly spelled = new Map<Sym | Buf, string>();
  /** `taken`: the spellings of the enclosing scope, consulted and never copied — a module of 10 000
   *  kernels makes 10 000 namers over one set of its names (copying it made printing quadratic) */
  constructor(
    private readonly rules: NameRules,
    private readonly taken: ReadonlySet<string> = new Set(),
  ) {}

  /** Reserve a spelling that is not a symbol's (a module-level function, say). */
  take(name: string): void {
    this.used.add(name);
  }

  /** A spelling for a hint that no symbol has: unique, and the target's identifier. */
  fresh(hint: string): string {
    let base = [...hint].map((ch) => (/[A-Za-z0-9_]/.test(ch) || (ch === '$' && this.rules.dollar) ? ch : '_')).join('');
    if (!/^[A-Za-z_$]/.test(base)) base = `_${base}`;
    if (this.rules.reserved.has(base)) base = `${base}_`;
    let name = base;
    for (let k = 2; this.used.has(name) || this.taken.has(name) || this.rules.reserved.has(name); k++) name = `${base}${/\d$/.test(base) ? '_' : ''}${k}`;
    this.used.add(name);
    return name;
  }

  /** The spelling of a symbol or buffer: chosen on first sight, the same ever after. */
  of(x: Sym | Buf): string {
    let name = this.spelled.get(x);
    if (name === undefined) {
      name = this.fresh(x.name);
      this.spelled.set(x, name);
    }
    return name;
  }
}
