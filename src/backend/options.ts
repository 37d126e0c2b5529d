/**
 * Options of useBackend (index.ts). In their own file because the backends' set-up modules
 * (wasm.ts), which index.ts loads, read them too: defined in index.ts they made a cycle.
 */
export interface BackendOptions {
  /** Threads for the WASM backend (default: all cores). 1 disables threading. */
  threads?: number;
}
