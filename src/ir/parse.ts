// parse: program text → surface syntax tree (with source spans for error messages).
//
// Worked example: `Y[i] = sum(k) A[i,k]*X[k] + b[i]` parses to
//   assign Y[i] = binary(+, reduce(sum; k; binary(*, A[i,k], X[k])), b[i])
// because a reduction extends over the product that follows it (`*`, `/`) and stops at `+`/`-`.
import { fail, LINE_BREAK, type Span } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';

export type Ast =
  | { readonly k: 'num'; readonly value: number; readonly span: Span }
  | { readonly k: 'name'; readonly name: string; readonly span: Span }
  | { readonly k: 'access'; readonly name: string; readonly subs: readonly Ast[]; readonly span: Span }
  | { readonly k: 'unary'; readonly arg: Ast; readonly span: Span }
  /** `.*` `./` `.^` are matrix notation's elementwise operators (on scalars, the same as `*` `/` `^`) */
  | { readonly k: 'binary'; readonly op: '+' | '-' | '*' | '/' | '%' | '^' | '.*' | './' | '.^'; readonly a: Ast; readonly b: Ast; readonly span: Span }
  /** `A'`: the transpose, in matrix notation */
  | { readonly k: 'transpose'; readonly arg: Ast; readonly span: Span }
  | { readonly k: 'compare'; readonly op: '>' | '<' | '>=' | '<=' | '==' | '!='; readonly a: Ast; readonly b: Ast; readonly span: Span }
  /** `subs`: an element of a matrix function's value, `inv(A)[i,j]` */
  | { readonly k: 'call'; readonly name: string; readonly args: readonly Ast[]; readonly subs?: readonly Ast[]; readonly span: Span }
  | {
      readonly k: 'reduce';
      readonly op: string;
      readonly heads: readonly { readonly name: string; readonly range?: Ast; readonly span: Span }[];
      readonly at?: readonly Ast[];
      readonly body: Ast;
      readonly span: Span;
    };

export type Line =
  | { readonly k: 'dims'; readonly items: readonly { readonly name: string; readonly value?: number; readonly span: Span }[] }
  | { readonly k: 'const'; readonly items: readonly { readonly name: string; readonly value: number; readonly span: Span }[] }
  /** `int`: an integer input, `tok: int[N]` (read as a subscript, E[tok[n], d]) */
  | { readonly k: 'decl'; readonly name: string; readonly shape: readonly Ast[]; readonly span: Span; readonly int?: true }
  | { readonly k: 'def'; readonly name: string; readonly params: readonly { readonly name: string; readonly span: Span }[]; readonly body: Ast; readonly span: Span }
  /** `add`: a scatter-add, `dE[tok[n], d] += dY[n, d]`, into a tensor an earlier statement assigned */
  | { readonly k: 'assign'; readonly name: string; readonly subs: readonly Ast[] | null; readonly rhs: Ast; readonly span: Span; readonly add?: true };

export interface Token {
  readonly t: 'name' | 'num' | 'op' | 'nl' | 'eof';
  readonly text: string;
  readonly line: number;
  readonly col: number;
  /** on the end-of-program token: the innermost bracket still open there */
  readonly unclosed?: Token;
}

const OPS = ['<=', '>=', '==', '!=', '.*', './', '.^', '[', ']', '(', ')', '{', '}', ',', ':', '=', '+', '-', '*', '/', '%', '^', '<', '>', ';', '@', "'", 'Σ', '∑'];
/** the one-character ASCII operators by character code (Σ and ∑ are scanned on their own) */
const ASCII_OPS: readonly (string | undefined)[] = Array.from({ length: 128 }, (_, c) => (OPS.includes(String.fromCharCode(c)) ? String.fromCharCode(c) : undefined));
/** the two-character operators: all ASCII, and each starts with one of < > = ! . */
const TWO_CHAR_OPS = new Set(OPS.filter((o) => o.length === 2));
const startsTwoCharOp = (c: number): boolean => c === 0x3c || c === 0x3e || c === 0x3d || c === 0x21 || c === 0x2e;
/** an ASCII digit by character code (NaN, past the end of the line, is not) */
const isDigitCode = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isAsciiLetterOr_ = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
// names beyond ASCII: a letter or _, then letters, numbers and _ (not Σ, which starts a sum)
const NAME_START = /^[\p{L}_]$/u;
const NAME_PART = /^[\p{L}\p{N}_]$/u;
const SIGMA = 0x3a3;
const N_ARY_SUM = 0x2211;
export const REDUCTIONS = ['sum', 'max', 'min', 'mean', 'logsumexp', 'argmax', 'argmin', 'prod'] as const;
/** Matrix functions that bind indices like a reduction in their general form, `det(p:N, q:N) M[p,q]`
 *  and `inv(p:N, q:N @ i, j) M[p,q]`, and are calls in their short one, `det(A)`, `inv(A)[i,j]`. */
export const MATRIX_BINDERS = ['det', 'logdet', 'inv'] as const;
const COMPARISONS: ReadonlySet<string> = new Set(['>', '<', '>=', '<=', '==', '!=']);
const ADDITIVE: ReadonlySet<string> = new Set(['+', '-']);
const MULTIPLICATIVE: ReadonlySet<string> = new Set(['*', '/', '%', '.*', './']);
/** Chains of + - * longer than this are regrouped into balanced trees (see additive). */
const LONG_CHAIN = 64;

/** The code point at `i` as a string (a lone surrogate stays itself), for the Unicode tests and messages. */
const codePointAt = (text: string, i: number): string => String.fromCodePoint(text.codePointAt(i)!);
/** Characters (code points) in `text`: columns count characters, not UTF-16 units. */
function codePointCount(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/**
 * Program text → tokens, scanning character codes with ASCII fast paths (a 10 000-term line made
 * a code-point array and a Unicode regex test per character cost ~0.3 s). `pairs` counts the
 * surrogate pairs before `i`, so a column is `i - pairs + 1`: it counts characters, as messages show.
 */
export function lex(src: string): Token[] {
  const out: Token[] = [];
  const lines = src.split(LINE_BREAK);
  let depth = 0;
  const open: Token[] = [];
  // the end of the program sits after its last character, not on the empty lines after it
  let end = { line: 1, col: 1 };
  for (let li = 0; li < lines.length; li++) {
    const text = lines[li]!;
    const line = li + 1;
    const n = text.length;
    let i = 0;
    let pairs = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      const col = i - pairs + 1;
      if (c === 0x23 /* # */) break;
      if (c === 0x20 || c === 0x09) {
        i++;
        continue;
      }
      if (isDigitCode(c) || (c === 0x2e /* . */ && isDigitCode(text.charCodeAt(i + 1)))) {
        // digits[.digits][e±digits], scanned in place (matching on the rest of the line made a
        // 10 000-term line quadratic)
        let j = i;
        while (isDigitCode(text.charCodeAt(j))) j++;
        if (text.charCodeAt(j) === 0x2e) for (j++; isDigitCode(text.charCodeAt(j)); ) j++;
        const e = text.charCodeAt(j);
        if (e === 0x65 || e === 0x45) {
          let k = j + 1;
          const sign = text.charCodeAt(k);
          if (sign === 0x2b || sign === 0x2d) k++;
          if (isDigitCode(text.charCodeAt(k))) {
            while (isDigitCode(text.charCodeAt(k))) k++;
            j = k;
          }
        }
        out.push({ t: 'num', text: text.slice(i, j), line, col });
        i = j;
        continue;
      }
      if (c === SIGMA || c === N_ARY_SUM) {
        out.push({ t: 'op', text: 'Σ', line, col });
        i++;
        if (text.charCodeAt(i) === 0x5f /* _ */) i++;
        continue;
      }
      if (isAsciiLetterOr_(c) || (c >= 0x80 && NAME_START.test(codePointAt(text, i)))) {
        let j = i;
        for (;;) {
          const d = text.charCodeAt(j);
          if (isAsciiLetterOr_(d) || isDigitCode(d)) j++;
          else if (d >= 0x80 && d !== SIGMA && NAME_PART.test(codePointAt(text, j))) {
            const wide = d >= 0xd800 && d <= 0xdbff && j + 1 < n;
            j += wide ? 2 : 1;
            if (wide) pairs++;
          } else break;
        }
        out.push({ t: 'name', text: text.slice(i, j), line, col });
        i = j;
        continue;
      }
      const op = startsTwoCharOp(c) && TWO_CHAR_OPS.has(text.slice(i, i + 2)) ? text.slice(i, i + 2) : c < 0x80 ? ASCII_OPS[c] : undefined;
      if (op === undefined)
        return fail('syntax', `unexpected character ${JSON.stringify(codePointAt(text, i))}`, { line, col, length: 1 }, "the language uses ASCII operators + - * / ^ % .* ./ .^ ' and comparisons; names are letters, digits and _");
      const token: Token = { t: 'op', text: op, line, col };
      if (op === '(' || op === '[' || op === '{') {
        depth++;
        open.push(token);
      }
      if (op === ')' || op === ']' || op === '}') {
        depth = Math.max(0, depth - 1);
        open.pop();
      }
      out.push(token);
      i += op.length;
    }
    if (out.length && out[out.length - 1]!.line === line) {
      const t = out[out.length - 1]!;
      end = { line, col: t.col + codePointCount(t.text) };
    }
    // A newline inside brackets continues the statement.
    if (depth === 0) out.push({ t: 'nl', text: '\n', line, col: codePointCount(text) + 1 });
  }
  out.push({ t: 'eof', text: '', ...end, ...(open.length ? { unclosed: open[open.length - 1]! } : {}) });
  return out;
}

class Parser {
  private pos = 0;
  private depth = 0;
  /** reductions not wrapped in parentheses: they already consumed the rest of their product */
  private readonly bare = new Set<Ast>();
  constructor(
    private readonly toks: Token[],
    /** levels of nesting followed before a located error (not a stack overflow) */
    private readonly maxNesting: number,
  ) {}

  private peek(o = 0): Token {
    return this.toks[Math.min(this.pos + o, this.toks.length - 1)]!;
  }
  private next(): Token {
    return this.toks[this.pos++]!;
  }
  private isOp(text: string, o = 0): boolean {
    const t = this.peek(o);
    return t.t === 'op' && t.text === text;
  }
  /** whether the next token is one of these operators (one look, where a loop tested each in turn) */
  private atOp(ops: ReadonlySet<string>): boolean {
    const t = this.peek();
    return t.t === 'op' && ops.has(t.text);
  }
  private spanOf(t: Token, length = t.text.length || 1): Span {
    return { line: t.line, col: t.col, length };
  }
  private spanFrom(start: Token): Span {
    const prev = this.toks[this.pos - 1] ?? start;
    const length = prev.line === start.line ? Math.max(1, prev.col + prev.text.length - start.col) : 1;
    return { line: start.line, col: start.col, length };
  }
  private describe(t: Token): string {
    return t.t === 'eof' ? 'the end of the program' : t.t === 'nl' ? 'the end of the line' : `\`${t.text}\``;
  }
  private expect(text: string, what: string, hint?: string): Token {
    if (!this.isOp(text)) {
      const t = this.peek();
      const u = t.t === 'eof' ? t.unclosed : undefined;
      fail('syntax', `expected \`${text}\` ${what}, found ${this.describe(t)}`, this.spanOf(t), u ? `the \`${u.text}\` at ${u.line}:${u.col} is never closed` : hint);
    }
    return this.next();
  }
  private expectName(what: string): Token {
    const t = this.peek();
    if (t.t !== 'name') fail('syntax', `expected ${what}, found ${this.describe(t)}`, this.spanOf(t));
    return this.next();
  }

  program(): Line[] {
    const lines: Line[] = [];
    for (;;) {
      while (this.peek().t === 'nl' || this.isOp(';')) this.next();
      if (this.peek().t === 'eof') return lines;
      lines.push(this.line());
      const t = this.peek();
      if (t.t !== 'nl' && t.t !== 'eof' && !this.isOp(';'))
        fail('syntax', `unexpected ${this.describe(t)} after a complete statement`, this.spanOf(t), 'one statement per line (or separate them with `;`)');
    }
  }

  private line(): Line {
    const t = this.peek();
    if (t.t === 'name' && t.text === 'dims' && this.peek(1).t === 'name') return this.dims();
    if (t.t === 'name' && t.text === 'def' && this.peek(1).t === 'name') return this.def();
    if (t.t === 'name' && t.text === 'const' && this.peek(1).t === 'name') return this.consts();
    if (t.t !== 'name')
      fail('syntax', `a statement starts with a name, found ${this.describe(t)}`, this.spanOf(t), 'write `Y[i] = …`, `X: [N]`, `dims N` or `def f(x) = …`');
    if (this.isOp(':', 1)) return this.decl();
    return this.assign();
  }

  private dims(): Line {
    this.next();
    const items: { name: string; value?: number; span: Span }[] = [];
    do {
      const n = this.expectName('a size name');
      let value: number | undefined;
      if (this.isOp('=')) {
        this.next();
        const v = this.peek();
        if (v.t !== 'num' || !/^\d+$/.test(v.text) || !Number.isSafeInteger(Number(v.text)))
          fail('bad-size', `the default of size ${n.text} must be a whole number of at most 9,007,199,254,740,991, found ${this.describe(v)}`, this.spanOf(v), `write \`dims ${n.text}=3\``);
        value = Number(this.next().text);
      }
      items.push({ name: n.text, ...(value !== undefined ? { value } : {}), span: this.spanOf(n) });
    } while (this.isOp(',') && this.next());
    return { k: 'dims', items };
  }

  /** `const eps = 1e-5, lr = -0.1`: named real numbers (a sign and a number literal each). */
  private consts(): Line {
    this.next();
    const items: { name: string; value: number; span: Span }[] = [];
    do {
      const n = this.expectName('a constant name');
      this.expect('=', `after the constant name ${n.text}`, `write \`const ${n.text} = 1e-5\``);
      let sign = 1;
      while (this.isOp('-') || this.isOp('+')) if (this.next().text === '-') sign = -sign;
      const v = this.peek();
      if (v.t !== 'num') fail('syntax', `the value of constant ${n.text} must be a number, found ${this.describe(v)}`, this.spanOf(v), `write \`const ${n.text} = 1e-5\``);
      const value = sign * Number(this.next().text);
      if (!Number.isFinite(value)) fail('syntax', `number ${v.text} is too large`, this.spanOf(v), 'numbers must be finite doubles');
      items.push({ name: n.text, value, span: this.spanOf(n) });
    } while (this.isOp(',') && this.next());
    return { k: 'const', items };
  }

  private def(): Line {
    this.next();
    const n = this.expectName('a function name');
    this.expect('(', `after the function name ${n.text}`);
    const params: { name: string; span: Span }[] = [];
    if (!this.isOp(')'))
      do {
        const p = this.expectName('a parameter name');
        params.push({ name: p.text, span: this.spanOf(p) });
      } while (this.isOp(',') && this.next());
    this.expect(')', 'to close the parameter list');
    this.expect('=', `before the body of ${n.text}`, `write \`def ${n.text}(x) = x * sigmoid(x)\``);
    const body = this.expr();
    return { k: 'def', name: n.text, params, body, span: this.spanOf(n) };
  }

  private decl(): Line {
    const n = this.next();
    this.next(); // ':'
    const int = this.peek().t === 'name' && this.peek().text === 'int' && this.isOp('[', 1);
    if (int) this.next();
    this.expect('[', `to start the shape of ${n.text}`, `write \`${n.text}: [N, C]\`, or \`${n.text}: []\` for a scalar`);
    const shape: Ast[] = [];
    if (!this.isOp(']'))
      do shape.push(this.expr());
      while (this.isOp(',') && this.next());
    this.expect(']', `to close the shape of ${n.text}`);
    return { k: 'decl', name: n.text, shape, span: this.spanOf(n), ...(int ? { int: true as const } : {}) };
  }

  private assign(): Line {
    const n = this.next();
    let subs: Ast[] | null = null;
    if (this.isOp('[')) {
      this.next();
      subs = [];
      if (!this.isOp(']'))
        do subs.push(this.expr());
        while (this.isOp(',') && this.next());
      this.expect(']', `to close the subscripts of ${n.text}`, 'every `[` needs a matching `]`');
    }
    const span = this.spanFrom(n);
    // `+=`: the lexer's `+` then `=`
    const isAdd = this.isOp('+') && this.isOp('=', 1);
    if (isAdd) this.next();
    this.expect('=', `after the left side ${n.text}${subs ? '[…]' : ''}`, 'a statement reads `Y[i,j] = …`');
    const rhs = this.expr();
    return { k: 'assign', name: n.text, subs, rhs, span, ...(isAdd ? { add: true as const } : {}) };
  }

  expr(): Ast {
    if (++this.depth > this.maxNesting) fail('syntax', 'expression nested too deeply', this.spanOf(this.peek()), `at most ${this.maxNesting} levels of nesting`);
    try {
      const start = this.peek();
      const a = this.additive();
      const t = this.peek();
      if (t.t === 'op' && COMPARISONS.has(t.text)) {
        this.next();
        const b = this.additive();
        return { k: 'compare', op: t.text as '>', a, b, span: this.spanFrom(start) };
      }
      return a;
    } finally {
      this.depth--;
    }
  }

  private additive(): Ast {
    const first = this.product();
    const rest: { op: Token; b: Ast }[] = [];
    while (this.atOp(ADDITIVE)) {
      const op = this.next();
      rest.push({ op, b: this.product() });
    }
    if (rest.length <= LONG_CHAIN) return rest.reduce<Ast>((a, { op, b }) => ({ k: 'binary', op: op.text as '+', a, b, span: this.spanOf(op) }), first);
    // A long sum (10 000 terms) as a balanced tree of signed terms, a - b = a + (-b): the same sum,
    // but later passes recurse log(n) deep instead of n.
    const terms = [first, ...rest.map(({ op, b }): Ast => (op.text === '-' ? { k: 'unary', arg: b, span: this.spanOf(op) } : b))];
    return this.balanced('+', terms, rest.map((r) => r.op));
  }

  /** `t0 op t1 op … op tn` for an associative op, grouped as a balanced tree. */
  private balanced(op: '+' | '*', terms: readonly Ast[], ops: readonly Token[], lo = 0, hi = terms.length): Ast {
    // terms[lo, hi) with ops[lo, hi - 1) between them, by position: no copies of the halves at every level
    if (hi - lo === 1) return terms[lo]!;
    const mid = lo + ((hi - lo) >> 1);
    const a = this.balanced(op, terms, ops, lo, mid);
    const b = this.balanced(op, terms, ops, mid, hi);
    return { k: 'binary', op, a, b, span: this.spanOf(ops[mid - 1]!) };
  }

  private product(): Ast {
    const first = this.unary();
    const rest: { op: Token; b: Ast }[] = [];
    // A reduction consumed the rest of the product as its body.
    let last = first;
    while (!this.bare.has(last) && this.atOp(MULTIPLICATIVE)) {
      const op = this.next();
      last = this.unary();
      rest.push({ op, b: last });
    }
    if (rest.length <= LONG_CHAIN) return rest.reduce<Ast>((a, { op, b }) => ({ k: 'binary', op: op.text as '*', a, b, span: this.spanOf(op) }), first);
    // A long product: runs of `*` as balanced trees; `/` and `%` do not regroup and count as nesting.
    const divisions = rest.filter((r) => r.op.text !== '*');
    if (divisions.length > this.maxNesting) fail('syntax', 'expression nested too deeply', this.spanOf(divisions[this.maxNesting]!.op), `at most ${this.maxNesting} divisions in a row`);
    let a = first;
    for (let i = 0; i < rest.length; ) {
      const { op, b } = rest[i]!;
      if (op.text !== '*') {
        a = { k: 'binary', op: op.text as '/', a, b, span: this.spanOf(op) };
        i++;
        continue;
      }
      let j = i;
      while (j < rest.length && rest[j]!.op.text === '*') j++;
      const run = rest.slice(i, j);
      a = { k: 'binary', op: '*', a, b: this.balanced('*', run.map((r) => r.b), run.slice(1).map((r) => r.op)), span: this.spanOf(op) };
      i = j;
    }
    return a;
  }

  private unary(): Ast {
    if (this.isOp('-') || this.isOp('+')) {
      const op = this.next();
      if (++this.depth > this.maxNesting) fail('syntax', 'expression nested too deeply', this.spanOf(op), `at most ${this.maxNesting} levels of nesting`);
      const arg = this.unary();
      this.depth--;
      if (op.text === '+') return arg;
      const node: Ast = { k: 'unary', arg, span: this.spanOf(op) };
      if (this.bare.has(arg)) this.bare.add(node);
      return node;
    }
    return this.power();
  }

  private power(): Ast {
    let base = this.atom();
    // A' and A'' — postfix, binding tighter than ^ (x'^2 is (x')^2)
    while (!this.bare.has(base) && this.isOp("'")) base = { k: 'transpose', arg: base, span: this.spanOf(this.next()) };
    if (!this.bare.has(base) && (this.isOp('^') || this.isOp('.^'))) {
      const op = this.next();
      const exp = this.nested(op, () => this.unary());
      return { k: 'binary', op: op.text as '^', a: base, b: exp, span: this.spanOf(op) };
    }
    return base;
  }

  /** Parse something that nests (an exponent, a reduction body), counting it against maxNesting. */
  private nested<T>(at: Token, parse: () => T): T {
    if (++this.depth > this.maxNesting) fail('syntax', 'expression nested too deeply', this.spanOf(at), `at most ${this.maxNesting} levels of nesting`);
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private startsBody(): boolean {
    const t = this.peek();
    return t.t === 'name' || t.t === 'num' || (t.t === 'op' && (t.text === '(' || t.text === 'Σ'));
  }

  private atom(): Ast {
    const t = this.peek();
    if (t.t === 'num') {
      this.next();
      const value = Number(t.text);
      if (!Number.isFinite(value)) fail('syntax', `number ${t.text} is too large`, this.spanOf(t), 'numbers must be finite doubles');
      return { k: 'num', value, span: this.spanOf(t) };
    }
    if (t.t === 'op' && t.text === '(') {
      this.next();
      const e = this.expr();
      this.expect(')', 'to close the parenthesis', 'every `(` needs a matching `)`');
      this.bare.delete(e);
      return e;
    }
    if (t.t === 'op' && t.text === 'Σ') return this.sigma();
    if (t.t === 'name') {
      this.next();
      if (this.isOp('[')) {
        this.next();
        const subs: Ast[] = [];
        if (!this.isOp(']'))
          do subs.push(this.expr());
          while (this.isOp(',') && this.next());
        this.expect(']', `to close the subscripts of ${t.text}`, 'every `[` needs a matching `]`');
        return { k: 'access', name: t.text, subs, span: this.spanFrom(t) };
      }
      if (this.isOp('(')) return this.callOrReduce(t);
      return { k: 'name', name: t.text, span: this.spanOf(t) };
    }
    return fail('syntax', `expected a value, found ${this.describe(t)}`, this.spanOf(t), 'a value is a number, a name, T[i,…], a call f(…), a reduction sum(i) … or ( … )');
  }

  private sigma(): Ast {
    const s = this.next();
    const heads: { name: string; range?: Ast; span: Span }[] = [];
    const close = this.isOp('{') ? '}' : this.isOp('(') ? ')' : undefined;
    if (close) {
      this.next();
      do heads.push(this.head());
      while (this.isOp(',') && this.next());
      this.expect(close, 'to close the list of summed indices');
    } else heads.push(this.head());
    if (!this.startsBody() && !this.isOp('-')) fail('syntax', 'Σ needs an expression after its indices', this.spanOf(this.peek()), 'write `Σ(i,j) A[i,j]`');
    const body = this.nested(s, () => this.product());
    const node: Ast = { k: 'reduce', op: 'sum', heads, body, span: this.spanOf(s) };
    this.bare.add(node);
    return node;
  }

  private head(): { name: string; range?: Ast; span: Span } {
    const n = this.expectName('an index name');
    if (this.isOp(':')) {
      this.next();
      return { name: n.text, range: this.additive(), span: this.spanOf(n) };
    }
    return { name: n.text, span: this.spanOf(n) };
  }

  private callOrReduce(nameTok: Token): Ast {
    const name = nameTok.text;
    this.next(); // '('
    const items: { e: Ast; range?: Ast }[] = [];
    let at: Ast[] | undefined;
    if (!this.isOp(')'))
      do {
        const e = this.expr();
        if (this.isOp(':')) {
          this.next();
          items.push({ e, range: this.additive() });
        } else items.push({ e });
        if (this.isOp('@')) {
          this.next();
          at = [];
          do at.push(this.expr());
          while (this.isOp(',') && this.next());
          break;
        }
      } while (this.isOp(',') && this.next());
    this.expect(')', `to close the arguments of ${name}`, 'every `(` needs a matching `)`');
    const binder = (MATRIX_BINDERS as readonly string[]).includes(name);
    const isReduction = (REDUCTIONS as readonly string[]).includes(name) || binder;
    // sum(A) with one argument and nothing after it: the sum of every element (matrix notation)
    const whole = items.length === 1 && !items[0]!.range && !at && !this.startsBody() && !this.isOp('-');
    const alwaysReduction = isReduction && name !== 'max' && name !== 'min' && !binder && !whole;
    if (alwaysReduction || (isReduction && (this.startsBody() || items.some((i) => i.range) || at))) {
      const heads = items.map((i) => {
        if (i.e.k !== 'name') fail('syntax', `${name}(…) lists index names, found an expression`, i.e.span, `write \`${name}(i, j) …\`; an index may carry its range: \`${name}(r:4) …\``);
        const nameAst = i.e as { name: string; span: Span };
        return { name: nameAst.name, ...(i.range ? { range: i.range } : {}), span: nameAst.span };
      });
      if (heads.length === 0) fail('syntax', `${name}() needs at least one index`, this.spanOf(nameTok), `write \`${name}(i) …\``);
      if (!this.startsBody() && !this.isOp('-'))
        fail('syntax', `${name}(${heads.map((h) => h.name).join(', ')}) needs an expression after it`, this.spanOf(this.peek()), `write \`${name}(${heads.map((h) => h.name).join(', ')}) X[…]\``);
      const body = this.nested(nameTok, () => this.product());
      const node: Ast = { k: 'reduce', op: name, heads, ...(at ? { at } : {}), body, span: this.spanOf(nameTok) };
      this.bare.add(node);
      return node;
    }
    if (at) fail('syntax', '`@` only appears in argmax(… @ …) and inv(… @ …)', this.spanOf(nameTok));
    const ranged = items.find((i) => i.range);
    if (ranged) fail('syntax', '`name:range` only appears in a reduction', ranged.e.span);
    if (this.isOp('[')) {
      // an element of a matrix function's value: inv(A)[i,j]
      this.next();
      const subs: Ast[] = [];
      if (!this.isOp(']'))
        do subs.push(this.expr());
        while (this.isOp(',') && this.next());
      this.expect(']', `to close the subscripts of ${name}(…)`, 'every `[` needs a matching `]`');
      return { k: 'call', name, args: items.map((i) => i.e), subs, span: this.spanFrom(nameTok) };
    }
    return { k: 'call', name, args: items.map((i) => i.e), span: this.spanFrom(nameTok) };
  }
}

export function parse(source: string, maxNesting = DEFAULT_LIMITS.maxNesting): Line[] {
  return new Parser(lex(source), maxNesting).program();
}
