/**
 * A dynamic import that bundlers do not follow (the specifier is computed, not a literal): for the
 * Node-only parts of backend set-up (threads, Dawn), which a browser never reaches, and for
 * optional peers (the webgl and webgpu backends' packages), which a literal import would make
 * every bundler require at build time.
 */
export function unbundledImport(specifier: string): Promise<unknown> {
  return import(/* @vite-ignore */ specifier);
}
