// build: the playground as static files — `npm run build:playground` writes playground/dist/ and prints
// each file's size and the gzipped size of the first load.
//
// Worked example: buildPlayground('playground/dist') writes
//   index.html                    the page, pointing at the hashed bundle names below
//   main-<hash>.js, main-<hash>.css   the app (deltagrad, CodeMirror, KaTeX) and its styles
//   fonts/KaTeX_*-<hash>.woff2    KaTeX's fonts (woff2 only: every browser the bundle runs in reads it)
//   sw.js                         the service worker, with the list of these files and their hash
// and returns the sizes: firstLoadGzip counts index.html, the script and the stylesheet (the fonts are
// loaded as formulas need them, and are reported apart). The same sources give the same bytes.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

export const PLAYGROUND = fileURLToPath(new URL('..', import.meta.url));
export const DIST = join(PLAYGROUND, 'dist');

/** The bundle's options, shared by the build and the dev server. */
export function appOptions(dev: boolean): esbuild.BuildOptions {
  return {
    entryPoints: { main: join(PLAYGROUND, 'src/main.ts') },
    bundle: true,
    format: 'esm',
    // WebAssembly SIMD (the matmul micro-kernel) needs Chrome 91, Firefox 89, Safari 16.4
    target: ['es2022', 'chrome91', 'firefox89', 'safari16'],
    minify: !dev,
    sourcemap: dev ? 'inline' : false,
    charset: 'utf8',
    entryNames: dev ? '[name]' : '[name]-[hash]',
    assetNames: 'fonts/[name]-[hash]',
    loader: { '.dg': 'text', '.woff2': 'file' },
    // KaTeX's stylesheet also names .woff and .ttf fonts after the woff2 ones; no browser that runs
    // the bundle falls back to them, so they are not shipped
    external: ['*.woff', '*.ttf'],
    define: { DELTAGRAD_DEV: String(dev) },
    logLevel: 'warning',
  };
}

export interface BuiltFile {
  readonly path: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly kind: 'first load' | 'font' | 'service worker';
}

export interface BuildReport {
  readonly outDir: string;
  readonly files: readonly BuiltFile[];
  /** gzipped bytes of index.html + script + stylesheet */
  readonly firstLoadGzip: number;
  readonly fontsGzip: number;
  readonly version: string;
}

const filesUnder = (dir: string): string[] =>
  readdirSync(dir)
    .flatMap((name) => (statSync(join(dir, name)).isDirectory() ? filesUnder(join(dir, name)).map((f) => `${name}/${f}`) : [name]))
    .sort();

export async function buildPlayground(outDir = DIST): Promise<BuildReport> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const app = await esbuild.build({ ...appOptions(false), outdir: outDir, metafile: true });
  const outputs = Object.keys(app.metafile.outputs).map((p) => relative(outDir, p).split('\\').join('/'));
  const script = outputs.find((p) => /^main-.*\.js$/.test(p));
  const styles = outputs.find((p) => /^main-.*\.css$/.test(p));
  if (!script || !styles) throw new Error(`the build gave no main script or stylesheet: ${outputs.join(', ')}`);
  const template = readFileSync(join(PLAYGROUND, 'index.html'), 'utf8');
  if (!template.includes('"./main.js"') || !template.includes('"./main.css"')) throw new Error('index.html must load ./main.js and ./main.css');
  writeFileSync(join(outDir, 'index.html'), template.replace('"./main.js"', `"./${script}"`).replace('"./main.css"', `"./${styles}"`));

  const precache = ['index.html', ...filesUnder(outDir).filter((f) => f !== 'index.html')];
  const hash = createHash('sha256');
  for (const f of precache) hash.update(f).update('\0').update(readFileSync(join(outDir, f)));
  const version = hash.digest('hex').slice(0, 16);
  await esbuild.build({
    entryPoints: [join(PLAYGROUND, 'src/sw.ts')],
    outfile: join(outDir, 'sw.js'),
    bundle: true,
    format: 'iife',
    minify: true,
    target: 'es2022',
    define: { DELTAGRAD_PRECACHE: JSON.stringify(precache.map((f) => `./${f}`)), DELTAGRAD_VERSION: JSON.stringify(version) },
    logLevel: 'warning',
  });

  const files = filesUnder(outDir).map((path): BuiltFile => {
    const body = readFileSync(join(outDir, path));
    return { path, bytes: body.length, gzipBytes: gzipSync(body, { level: 9 }).length, kind: path.startsWith('fonts/') ? 'font' : path === 'sw.js' ? 'service worker' : 'first load' };
  });
  const sum = (kind: BuiltFile['kind']) => files.filter((f) => f.kind === kind).reduce((a, f) => a + f.gzipBytes, 0);
  return { outDir, files, firstLoadGzip: sum('first load'), fontsGzip: sum('font'), version };
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

export function formatReport(r: BuildReport): string {
  const rows = r.files.filter((f) => f.kind !== 'font').map((f) => `  ${f.path.padEnd(24)} ${kb(f.bytes).padStart(10)}  ${kb(f.gzipBytes).padStart(9)} gzipped  (${f.kind})`);
  const fonts = r.files.filter((f) => f.kind === 'font');
  return [
    `playground built in ${relative(process.cwd(), r.outDir) || '.'} (version ${r.version})`,
    ...rows,
    `  fonts/ (${fonts.length} KaTeX woff2)  ${kb(fonts.reduce((a, f) => a + f.bytes, 0)).padStart(10)}  ${kb(r.fontsGzip).padStart(9)} gzipped  (loaded as formulas need them)`,
    `first load: ${kb(r.firstLoadGzip)} gzipped (index.html + script + stylesheet; fonts aside)`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatReport(await buildPlayground()));
}
