/**
 * Protobuf decoding by reflection over the schema, without generated code: protobufjs builds its
 * decoders with `new Function`, which a page whose Content-Security-Policy forbids 'unsafe-eval'
 * (the lab's) refuses. Gives what `Type.toObject(Type.decode(bytes))` gives with default options:
 * set fields only, repeated fields as arrays, int64 as protobufjs reads them (a Long or a number),
 * enums as numbers, bytes as Uint8Array.
 */
import protobuf from 'protobufjs/light.js';

/** Scalar types that a repeated field may pack (wire type 2 around varints or fixed-size values). */
const PACKABLE = new Set(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64', 'bool']);

function scalar(type: string, r: protobuf.Reader): unknown {
  switch (type) {
    case 'double': return r.double();
    case 'float': return r.float();
    case 'int32': return r.int32();
    case 'uint32': return r.uint32();
    case 'sint32': return r.sint32();
    case 'fixed32': return r.fixed32();
    case 'sfixed32': return r.sfixed32();
    case 'int64': return r.int64();
    case 'uint64': return r.uint64();
    case 'sint64': return r.sint64();
    case 'fixed64': return r.fixed64();
    case 'sfixed64': return r.sfixed64();
    case 'bool': return r.bool();
    case 'string': return r.string();
    case 'bytes': return r.bytes();
    default: throw new Error(`unknown field type ${type}`);
  }
}

function value(field: protobuf.Field, r: protobuf.Reader): unknown {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) return decodeMessage(t, r, r.uint32());
  if (t instanceof protobuf.Enum) return r.int32();
  return scalar(field.type, r);
}

/** Decodes a message of `type` from `bytes` (or the next `length` bytes of a reader) into a plain object. */
export function decodeMessage(type: protobuf.Type, bytes: Uint8Array | protobuf.Reader, length?: number): Record<string, unknown> {
  const r = bytes instanceof protobuf.Reader ? bytes : protobuf.Reader.create(bytes);
  const end = length === undefined ? r.len : r.pos + length;
  const out: Record<string, unknown> = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const [id, wire] = [tag >>> 3, tag & 7];
    const field = type.fieldsById[id];
    if (!field || field instanceof protobuf.MapField) {
      r.skipType(wire);
      continue;
    }
    field.resolve();
    if (!field.repeated) {
      out[field.name] = value(field, r);
      continue;
    }
    const list = (out[field.name] ??= []) as unknown[];
    const packable = PACKABLE.has(field.type) || field.resolvedType instanceof protobuf.Enum;
    if (wire === 2 && packable) {
      const stop = r.uint32() + r.pos;
      while (r.pos < stop) list.push(field.resolvedType ? r.int32() : scalar(field.type, r));
    } else list.push(value(field, r));
  }
  if (r.pos !== end) throw new Error(`a ${type.name} ends past its bytes`);
  return out;
}
