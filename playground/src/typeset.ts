// typeset: LaTeX to KaTeX's HTML, cached — while a user types, most formulas stay the same and are
// cloned, not typeset again.
//
// Worked example: typeset('\mathrm{d}X = A^{\top} \, \mathrm{d}Y') is a <span class="katex-display">
// whose MathML reads dX = Aᵀ dY; a second call with the same text clones the first result.
// The LaTeX comes from derive, built from names the lexer allowed (letters, digits, _), but it is
// typeset as untrusted all the same: trust: false (no \href, \url, \htmlClass …), bounded macro
// expansion and sizes, and a formula KaTeX cannot typeset shows as red source text, not an exception.
import katex from 'katex';

const OPTIONS = {
  displayMode: true,
  throwOnError: false,
  trust: false,
  // LaTeX-compatibility warnings (unicode letters in names) are not the reader's concern
  strict: 'ignore',
  maxExpand: 1000,
  maxSize: 20,
  output: 'htmlAndMathml',
} as const;

const cache = new Map<string, HTMLElement>();
const CACHE_LIMIT = 300;

export function typeset(latex: string): HTMLElement {
  let done = cache.get(latex);
  if (done) {
    // refresh its place: the map's order is the eviction order
    cache.delete(latex);
  } else {
    done = document.createElement('div');
    done.className = 'math';
    katex.render(latex, done, OPTIONS);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  }
  cache.set(latex, done);
  return done.cloneNode(true) as HTMLElement;
}
