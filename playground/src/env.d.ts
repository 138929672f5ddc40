// Set by the build (tools/build.ts): true under `npm run playground` (live reload, no service worker).
declare const DELTAGRAD_DEV: boolean;
