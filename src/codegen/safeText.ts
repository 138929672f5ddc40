// safeText: the only ways a user's text (program source, tensor and size names) enters emitted code.
//
// Program text is untrusted. Emitted modules are made of our own template text plus exactly three
// kinds of user-derived pieces, each built here:
//   identifiers      — ASCII `[A-Za-z_$][A-Za-z0-9_$]*`, checked (`asciiIdentifier`)
//   string literals  — quoted, with every quote, backslash and invisible character escaped (`stringLiteral`)
//   comment text     — invisible characters escaped, `*/` broken (`commentText`)
// and `assertSafeCode` checks the finished module: no character that ends a `//` comment but `\n`
// (so no comment can be left early: `\r`, U+2028 and U+2029 are line terminators to JavaScript) and
// no other invisible character (control, format — bidi overrides —, surrogate, unassigned).
//
// Worked example: the source line `Y[i] = X[i] # \r globalThis.pwned = 1 //` becomes the comment
//   //   Y[i] = X[i] # \u{d} globalThis.pwned = 1 //
// one line, so nothing of it runs.

/** A character that could end a comment or hide what the text says: every Unicode line terminator,
 * control (Cc), format (Cf: bidi overrides, zero-width), surrogate (Cs), private-use (Co) or unassigned (Cn) character. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\u2028\u2029]/u;
const INVISIBLE_ALL = new RegExp(INVISIBLE.source, 'gu');

const escapeCodePoint = (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`;

/** Text for inside a `//` or `/* *\/` comment: one line, nothing invisible, no `*\/`. */
export function commentText(text: string): string {
  return text.replace(INVISIBLE_ALL, escapeCodePoint).replace(/\*\//g, '*\\/');
}

/** A single-quoted JavaScript string literal with the same value as `text`. */
export function stringLiteral(text: string): string {
  let out = "'";
  for (const c of text) {
    if (c === "'" || c === '\\') out += `\\${c}`;
    else if (INVISIBLE.test(c)) out += c.length === 1 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : escapeCodePoint(c);
    else out += c;
  }
  return `${out}'`;
}

/** A property name: bare when it is an ASCII identifier, else a string literal. */
export const propertyName = (name: string): string => (isAsciiIdentifier(name) ? name : stringLiteral(name));

/** A JavaScript literal of plain data (strings, numbers, booleans, arrays, records), keys and
 * strings built as above; `__proto__` as a computed key, so that it stays a property. */
export function literal(value: unknown): string {
  if (typeof value === 'string') return stringLiteral(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  if (value && typeof value === 'object') {
    const key = (k: string) => (k === '__proto__' ? `['__proto__']` : propertyName(k));
    const entries = Object.entries(value);
    return entries.length ? `{ ${entries.map(([k, v]) => `${key(k)}: ${literal(v)}`).join(', ')} }` : '{}';
  }
  throw new Error(`internal: no literal for ${String(value)}`);
}

const ASCII_IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;


/** Is `name` an identifier every JavaScript tool reads the same way (ASCII only: the TypeScript
 * transpiler drops letters newer than its Unicode tables, so `𐵊` would vanish from a loop bound). */
export const isAsciiIdentifier = (name: string): boolean => ASCII_IDENTIFIER.test(name);

/** `name`, which the emitter made, checked to be an ASCII identifier. */
export function asciiIdentifier(name: string): string {
  if (!ASCII_IDENTIFIER.test(name)) throw new Error(`internal: ${JSON.stringify(name)} is not an ASCII identifier`);
  return name;
}

/** Throws when emitted code holds a character that could end a comment early or hide code. */
export function assertSafeCode(code: string): string {
  for (const line of code.split('\n')) {
    const m = INVISIBLE.exec(line.replace(/\t/g, ' '));
    if (m) throw new Error(`internal: emitted code holds the invisible character U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);
  }
  return code;
}
