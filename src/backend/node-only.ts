/**
 * A dynamic import that browser bundlers do not follow (the specifier is computed, not a literal):
 * for the Node-only parts of backend set-up (threads, Dawn), which a browser never reaches.
 */
export function nodeOnly(specifier: string): Promise<unknown> {
  return import(/* @vite-ignore */ specifier);
}
