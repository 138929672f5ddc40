// language: the deltagrad language for CodeMirror — a line tokenizer (CodeMirror's StreamLanguage)
// and the colours of its tokens. Highlighting only: the parser of record is deltagrad's own, whose
// errors the editor shows as diagnostics (diagnostics.ts).
//
// Worked example: `Y[n,f] = relu(X[n,d]*W[f,d] + b[f])   # AffineReLU` is tokenized as
//   Y definition · [ · n f index · = operator · relu builtin · ( · X tensor · [ · n d index · ] · * …
//   · # AffineReLU comment
// so the tensor a statement assigns, the indices inside subscripts, the functions and reductions, the
// numbers and the comments each get their own colour.
import { HighlightStyle, StreamLanguage, type StreamParser } from '@codemirror/language';
import { tags } from '@lezer/highlight';
import { BUILTINS } from '../../src/ir/types.js';

const KEYWORDS = new Set(['dims', 'def', 'const']);
const REDUCTIONS = new Set(['sum', 'mean', 'logsumexp', 'argmax', 'argmin']);
// the elementwise and matrix functions (LANGUAGE.md); `max`/`min` are both functions and reductions
const FUNCTIONS = new Set<string>([...BUILTINS, 'tr', 'det', 'logdet', 'inv', 'diag', 'norm1', 'norm2', 'eye', 'ones']);
const NAME = /^[\p{L}_][\p{L}\p{N}_]*/u;
const NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;
const OPERATOR = /^(?:<=|>=|==|!=|\.\*|\.\/|\.\^|[-+*/^%<>=@'])/;

export interface TokenizerState {
  /** the brackets open here, innermost last: a name under `[` is an index */
  brackets: string[];
  /** the next token starts a statement (where `dims`, `def`, `const` are keywords) */
  atStatement: boolean;
  /** the next name is the function a `def` defines */
  defines: boolean;
}

export const tokenizer: StreamParser<TokenizerState> = {
  name: 'deltagrad',
  startState: () => ({ brackets: [], atStatement: true, defines: false }),
  copyState: (s) => ({ brackets: [...s.brackets], atStatement: s.atStatement, defines: s.defines }),
  token(stream, state) {
    // a newline outside brackets ends a statement (inside them it continues it, as in the parser)
    if (stream.sol() && !state.brackets.length) state.atStatement = true;
    if (stream.eatSpace()) return null;
    if (stream.peek() === '#') {
      stream.skipToEnd();
      return 'comment';
    }
    const starts = state.atStatement;
    state.atStatement = false;
    if (stream.match(NUMBER)) return 'number';
    if (stream.eat(/[Σ∑]/)) return 'reduction';
    const name = stream.match(NAME);
    if (name && typeof name !== 'boolean') {
      const word = name[0];
      if (starts && KEYWORDS.has(word) && stream.match(/^\s*[\p{L}_]/u, false)) {
        state.defines = word === 'def';
        return 'keyword';
      }
      if (state.defines) {
        state.defines = false;
        return 'definition';
      }
      if (REDUCTIONS.has(word)) return 'reduction';
      if (FUNCTIONS.has(word) && stream.match(/^\s*\(/, false)) return 'builtin';
      if (state.brackets[state.brackets.length - 1] === '[') return 'index';
      if (starts && stream.match(/^\s*[[=:]/, false)) return 'definition';
      if (stream.match(/^\s*\[/, false)) return 'tensor';
      return 'variable';
    }
    const ch = stream.next()!;
    if (ch === '[' || ch === '(' || ch === '{') {
      state.brackets.push(ch);
      return 'bracket';
    }
    if (ch === ']' || ch === ')' || ch === '}') {
      state.brackets.pop();
      return 'bracket';
    }
    if (ch === ';') {
      state.atStatement = true;
      return 'punctuation';
    }
    if (ch === ',' || ch === ':') return 'punctuation';
    stream.backUp(1);
    if (stream.match(OPERATOR)) return 'operator';
    stream.next();
    return 'invalid';
  },
  tokenTable: {
    comment: tags.lineComment,
    number: tags.number,
    keyword: tags.definitionKeyword,
    reduction: tags.operatorKeyword,
    builtin: tags.standard(tags.function(tags.variableName)),
    definition: tags.definition(tags.variableName),
    tensor: tags.variableName,
    index: tags.special(tags.variableName),
    variable: tags.variableName,
    operator: tags.operator,
    bracket: tags.bracket,
    punctuation: tags.separator,
    invalid: tags.invalid,
  },
  languageData: { commentTokens: { line: '#' } },
};

export const deltagradLanguage = StreamLanguage.define(tokenizer);

/** Colours with at least 4.5:1 contrast on the editor's white (WCAG AA for text). */
export const deltagradHighlight = HighlightStyle.define([
  { tag: tags.lineComment, color: '#5c6370', fontStyle: 'italic' },
  { tag: tags.number, color: '#8a4b00' },
  { tag: tags.definitionKeyword, color: '#7b2fa8', fontWeight: '600' },
  { tag: tags.operatorKeyword, color: '#7b2fa8' },
  { tag: tags.standard(tags.function(tags.variableName)), color: '#005f99' },
  { tag: tags.definition(tags.variableName), color: '#1a1a1a', fontWeight: '700' },
  { tag: tags.special(tags.variableName), color: '#0a7a3b' },
  { tag: tags.operator, color: '#a1264a' },
  { tag: tags.invalid, color: '#b00020', textDecoration: 'underline wavy' },
]);
