/**
 * A small, exact reader of NumPy .npy files (format versions 1.0, 2.0 and 3.0), after
 * numpy/lib/format.py: the magic "\x93NUMPY", a version, the header's length (uint16 in v1,
 * uint32 in v2/v3), a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, H, W)}
 * padded with spaces to a multiple of 64 bytes, then the raw array in C order.
 */
import * as fs from 'node:fs';
import { AdvxError } from '../../core/errors.ts';

/** The dtypes advx reads, little-endian ('|' for one byte), with their size in bytes. */
export const NPY_DTYPES = {
  '<f4': { name: 'float32', bytes: 4 },
  '<f8': { name: 'float64', bytes: 8 },
  '|u1': { name: 'uint8', bytes: 1 },
  '<i4': { name: 'int32', bytes: 4 },
  '<i8': { name: 'int64', bytes: 8 },
} as const;
export type NpyDescr = keyof typeof NPY_DTYPES;

export interface NpyArray {
  dtype: (typeof NPY_DTYPES)[NpyDescr]['name'];
  shape: number[];
  /** The values in C order; int64 values as numbers (exact up to 2⁵³, and labels are small). */
  data: Float32Array | Float64Array | Uint8Array | Int32Array | number[];
}

const MAGIC = '\x93NUMPY';

/** Reads a .npy file; anything else (a pickle, big-endian, Fortran order, another dtype) is an AdvxError naming it. */
export function readNpy(file: string): NpyArray {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw new AdvxError(`${file} cannot be read (${(err as Error).message})`);
  }
  const bad = (what: string) => new AdvxError(`${file} is not a .npy file advx reads: ${what}`);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== MAGIC) throw bad('no \\x93NUMPY magic at its start');
  const major = buf[6];
  if (major < 1 || major > 3) throw bad(`format version ${major}.${buf[7]} (advx reads 1.0, 2.0, 3.0)`);
  const lenBytes = major === 1 ? 2 : 4;
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.length >= 12 ? buf.readUInt32LE(8) : -1;
  const start = 8 + lenBytes + headerLen;
  if (headerLen < 0 || start > buf.length) throw bad('its header is cut short');
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', 8 + lenBytes, start);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad(`unreadable header ${JSON.stringify(header.trim())}`);
  // numpy writes '<u1' as '|u1'; both mean the same byte.
  const key = (descr === '<u1' ? '|u1' : descr) as NpyDescr;
  if (!(key in NPY_DTYPES)) throw bad(`dtype ${descr} (advx reads ${Object.values(NPY_DTYPES).map((d) => d.name).join(', ')}, little-endian)`);
  if (fortran === 'True') throw bad('Fortran order (save it with np.ascontiguousarray first)');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(`shape (${shapeText})`);
  const { name, bytes } = NPY_DTYPES[key];
  const count = shape.reduce((a, b) => a * b, 1);
  if (buf.length - start !== count * bytes) throw bad(`its header says ${shape.join('×')} ${name} values (${count * bytes} bytes), but ${buf.length - start} bytes follow`);
  // A copy, so the typed array is aligned whatever the header's length.
  const raw = Uint8Array.from(buf.subarray(start)).buffer;
  return { dtype: name, shape, data: decode(name, raw, count) };
}

function decode(name: NpyArray['dtype'], raw: ArrayBuffer, count: number): NpyArray['data'] {
  if (name === 'float32') return new Float32Array(raw);
  if (name === 'float64') return new Float64Array(raw);
  if (name === 'uint8') return new Uint8Array(raw);
  if (name === 'int32') return new Int32Array(raw);
  const big = new BigInt64Array(raw);
  return Array.from({ length: count }, (_, i) => Number(big[i]));
}

/** Encodes an array as .npy v1.0 (for tests and for users' round trips). */
export function encodeNpy(descr: NpyDescr, shape: number[], bytes: Uint8Array, version: 1 | 2 | 3 = 1): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const lenBytes = version === 1 ? 2 : 4;
  const pad = 64 - ((8 + lenBytes + dict.length + 1) % 64);
  const header = dict + ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(8 + lenBytes);
  head.write(MAGIC, 0, 'latin1');
  head[6] = version;
  head[7] = 0;
  if (version === 1) head.writeUInt16LE(header.length, 8);
  else head.writeUInt32LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), bytes]);
}
