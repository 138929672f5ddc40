// bundleStamp: the fingerprint that ties bin/derive.bundle.mjs to the sources it was built from.
// bin/buildBundle.mjs writes it into the bundle's header; bin/derive.mjs recomputes it at start-up
// and runs the bundle only when the two agree, so an edit to src/ is never answered by stale code.
//
// Worked example: the header line
//   // sources: {"crc32":"9a3c01f2","files":["src/cli.ts","src/diff/derive.ts",…,"tsconfig.json"]}
// names every file esbuild read (paths relative to the project root, sorted) and the CRC-32 of their
// bytes; stampOf(root, files) gives that CRC again from the files on disk, or undefined when one
// of them is gone. Plain JavaScript, no dependency: it runs before anything is compiled.
//
// CRC-32, not sha1: loading node:crypto alone costs 6–9 ms, more than reading and checking all the
// files with zlib's crc32 (~3 ms for ~30 files, 330 kB). This guards against stale code, not against an adversary, and a
// random edit slips past a CRC-32 once in 4·10⁹; test/cli-bundle.test.ts compares the whole bytes.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';

const PREFIX = '// sources: ';
/** The header lines fit in the bundle's first HEAD bytes (the build checks): reading just those
 * instead of the whole bundle saves ~2 ms. */
export const HEAD = 16384;

// zlib.crc32 came in Node 20.15; before it, the same CRC in JavaScript (slower, same value)
let table;
function crc32Js(bytes, crc) {
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  if (typeof bytes === 'string') bytes = Buffer.from(bytes);
  crc = ~crc;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}
const crc32 = zlib.crc32 ?? crc32Js;

/** CRC-32 over each file's path, length and bytes (the length keeps one file's end from passing for
 * the next one's start), as 8 hex digits; undefined when a file cannot be read. `known` gives bytes
 * already in hand (the build's), by path; the others are read from disk. */
export function stampOf(root, files, known = () => undefined) {
  let crc = 0;
  for (const f of files) {
    let bytes = known(f);
    if (bytes === undefined)
      try {
        bytes = readFileSync(join(root, f));
      } catch {
        return undefined;
      }
    crc = crc32(bytes, crc32(`${f}\n${bytes.length}\n`, crc));
  }
  return crc.toString(16).padStart(8, '0');
}

export { crc32Js as crc32InJavaScript }; // test/cli-bundle.test.ts checks that it agrees with zlib's

/** The header line recording `files` and their CRC. */
export function stampLine(crc32, files) {
  return PREFIX + JSON.stringify({ crc32, files });
}

/** The { crc32, files } recorded in a bundle's text, or undefined when it has no header line. */
export function readStamp(text) {
  const at = text.indexOf('\n' + PREFIX);
  if (at < 0) return undefined;
  const end = text.indexOf('\n', at + 1);
  try {
    const s = JSON.parse(text.slice(at + 1 + PREFIX.length, end));
    return typeof s.crc32 === 'string' && Array.isArray(s.files) ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the bundle at `path` was built from the files now under root (false if it is missing). */
export function isFresh(root, path) {
  let head;
  try {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(HEAD);
      head = buf.toString('utf8', 0, readSync(fd, buf, 0, HEAD, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  const s = readStamp(head);
  return s !== undefined && stampOf(root, s.files) === s.crc32;
}
