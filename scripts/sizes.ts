// npm run sizes: what a user of the package downloads, installs and ships to a browser — the
// numbers the README quotes. Packs the package (npm pack builds it), installs the tarball into a
// temporary project, and bundles entry points with esbuild (minified ES module; gzip level 9).
//
// Worked example:  npm run sizes  →  tarball 211 KB (183 files), installed 814 KB, …
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleForBrowser, installTarball, packPackage, treeSize } from './packageTools.js';

const KB = (n: number) => `${(n / 1024).toFixed(1)} KB`;
const dir = mkdtempSync(join(tmpdir(), 'deltagrad-sizes-'));
try {
  const pack = packPackage(dir);
  const app = installTarball(dir, pack.tarball);
  const js = pack.files.filter((f) => f.path.endsWith('.js')).reduce((s, f) => s + f.size, 0);
  const dts = pack.files.filter((f) => f.path.endsWith('.d.ts')).reduce((s, f) => s + f.size, 0);
  console.log(`tarball          ${KB(pack.size)} (${pack.files.length} files; ${KB(pack.unpackedSize)} unpacked: ${KB(js)} JavaScript, ${KB(dts)} declarations)`);
  console.log(`installed        ${KB(treeSize(join(app, 'node_modules')))} in node_modules (no dependency)`);
  const entries: [string, string][] = [
    ['derive + compile + evaluate', "export { derive, compile, evaluate } from 'deltagrad';"],
    ['derive', "export { derive } from 'deltagrad';"],
    ['evaluate', "export { evaluate } from 'deltagrad';"],
    ['everything of deltagrad', "export * from 'deltagrad';"],
    ['conv2d (generated)', "export { conv2d } from 'deltagrad/generated';"],
    ['relu (generated)', "export { relu } from 'deltagrad/generated';"],
    ['all generated layers', "export * from 'deltagrad/generated';"],
  ];
  console.log('browser bundles (esbuild, minified):');
  for (const [label, entry] of entries) {
    const b = await bundleForBrowser(app, entry);
    console.log(`  ${label.padEnd(30)} ${KB(b.bytes).padStart(9)}, ${KB(b.gzipped).padStart(8)} gzipped (${b.modules.length} modules)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
