// The package as a user gets it: packed by npm (which builds it first), installed from the tarball
// into a fresh project, and bundled for a browser. Used by test/package (which checks what users
// get) and by scripts/sizes.ts (which reports the sizes the README quotes).
//
// Worked example:
//   const pack = packPackage(tmp);              // npm pack: builds dist/, lists the tarball's files
//   const app = installTarball(tmp, pack.tarball); // a plain project with deltagrad installed
//   await bundleForBrowser(app, "export { derive } from 'deltagrad'")  // → bytes, gzipped, modules
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export const root = fileURLToPath(new URL('../', import.meta.url));

/** The environment of a user's shell: none of the npm_* variables `npm test` sets, no loader. */
export function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_OPTIONS' && k !== 'INIT_CWD') env[k] = v;
  return env;
}

const npm = (args: string[], cwd: string): string => execFileSync('npm', args, { cwd, env: userEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

export interface Packed {
  tarball: string;
  /** bytes of the .tgz */
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

/** `npm pack` of this repository into dir: runs `prepack` (the build), as `npm publish` would. */
export function packPackage(dir: string): Packed {
  const out = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], root)) as { filename: string; size: number; unpackedSize: number; files: { path: string; size: number }[] }[];
  const p = out[0]!;
  return { tarball: join(dir, p.filename), size: p.size, unpackedSize: p.unpackedSize, files: p.files.map(({ path, size }) => ({ path, size })) };
}

/** A fresh plain-JavaScript project in dir/app with the tarball installed (offline: it needs nothing else). */
export function installTarball(dir: string, tarball: string): string {
  const app = join(dir, 'app');
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }, null, 2));
  npm(['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts=false', tarball], app);
  return app;
}

/** Bytes of every file under path. */
export function treeSize(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.size;
  return readdirSync(path).reduce((sum, name) => sum + treeSize(join(path, name)), 0);
}

export interface Bundle {
  code: string;
  bytes: number;
  gzipped: number;
  /** the files of the package that put code in the bundle (paths under node_modules/deltagrad) */
  modules: string[];
  /** with `splitting`: the files of the package only in chunks loaded by a dynamic import */
  lazy: string[];
}

const packageFiles = (inputs: Record<string, { bytesInOutput: number }>) =>
  Object.entries(inputs)
    .filter(([p, i]) => i.bytesInOutput > 0 && p.includes('node_modules/deltagrad/'))
    .map(([p]) => p.slice(p.indexOf('node_modules/deltagrad/') + 'node_modules/deltagrad/'.length));

/** esbuild's browser bundle (ES module, minified, tree-shaken) of entry, resolved from the project app;
 * `splitting`: dynamic imports go into chunks of their own, as Rollup, Vite and webpack do by default —
 * the numbers and `modules` are then those of what loads up front (the entry chunk and the chunks it
 * imports statically), `lazy` what only a dynamic import loads. */
export async function bundleForBrowser(app: string, entry: string, opts: { splitting?: boolean } = {}): Promise<Bundle> {
  const r = await build({
    stdin: { contents: entry, resolveDir: app, loader: 'js', sourcefile: 'entry.js' },
    absWorkingDir: app,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
    ...(opts.splitting ? { splitting: true, outdir: join(app, 'bundle') } : {}),
  });
  const outputs = r.metafile.outputs;
  const main = opts.splitting ? Object.keys(outputs).find((o) => outputs[o]!.entryPoint !== undefined)! : Object.keys(outputs)[0]!;
  // what loads up front: the entry chunk and, transitively, the chunks it imports statically
  const upFront = new Set<string>();
  const visit = (o: string) => {
    if (upFront.has(o) || !outputs[o]) return;
    upFront.add(o);
    for (const i of outputs[o]!.imports) if (i.kind === 'import-statement') visit(i.path);
  };
  visit(main);
  const files = new Map(r.outputFiles.map((f) => [f.path, f] as const));
  // (without splitting, the one output has no path of its own: it is written nowhere)
  const contents = opts.splitting ? [...upFront].map((o) => files.get(join(app, o))!.contents) : [r.outputFiles[0]!.contents];
  const joined = Buffer.concat(contents);
  const modules = [...new Set([...upFront].flatMap((o) => packageFiles(outputs[o]!.inputs)))].sort();
  const lazy = [...new Set(Object.keys(outputs).filter((o) => !upFront.has(o)).flatMap((o) => packageFiles(outputs[o]!.inputs)))].filter((m) => !modules.includes(m)).sort();
  return { code: joined.toString('utf8'), bytes: joined.length, gzipped: gzipSync(joined, { level: 9 }).length, modules, lazy };
}
