// A deltagrad program imported as its text: esbuild's `text` loader in the playground build, a small
// plugin in vitest.config.ts in the tests.
declare module '*.dg' {
  const source: string;
  export default source;
}
