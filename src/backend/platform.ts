/** Where this code runs, for the backends that exist in one place only (webgl: browsers; threads, Dawn: Node). */
export type Platform = 'node' | 'browser';

// Browsers (pages and workers) have no `process`; bundlers that shim `process.env` give no `versions.node`.
export const PLATFORM: Platform = typeof process !== 'undefined' && process.versions?.node ? 'node' : 'browser';
