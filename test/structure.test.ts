// src/ imports run one way (ir ← diff ← loop ← lower ← opt ← target ← pipeline ← codegen ← cli):
// no file imports one that imports it back, directly or through others — `import type` counts too,
// a type cycle being a design cycle all the same.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mjs)$/.test(e) ? [p] : [];
  });
}

function importsOf(file: string, known: ReadonlySet<string>): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"`]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    const spec = m[1] ?? m[2]!;
    const target = normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts');
    if (known.has(target)) out.push(target);
  }
  return out;
}

/** Strongly connected components of more than one file (Tarjan). */
function cycles(graph: ReadonlyMap<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.map((f) => f.slice(root.length)).sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('the structure of src/', () => {
  const all = files(root);
  const known = new Set(all);
  const graph = new Map(all.map((f) => [f, importsOf(f, known)]));
  it('has no import cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });
  it('(the check does find a cycle)', () => {
    expect(cycles(new Map([[`${root}a.ts`, [`${root}b.ts`]], [`${root}b.ts`, [`${root}a.ts`]]]))).toEqual([['a.ts', 'b.ts']]);
  });
  it('the back end imports one way: loop and lower never import target, opt or the pipeline', () => {
    const bad = [...graph].flatMap(([f, deps]) =>
      /\/src\/(loop|lower|opt)\//.test(f) ? deps.filter((d) => /\/src\/(target|pipeline)/.test(d) || (/\/src\/opt\//.test(d) && !/\/src\/opt\//.test(f))).map((d) => `${f.slice(root.length)} → ${d.slice(root.length)}`) : [],
    );
    expect(bad).toEqual([]);
  });
});
