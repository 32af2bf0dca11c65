/**
 * Just enough of the Kubernetes protobuf encoding to read small request
 * bodies the gateway must understand (kubectl ≥ 1.32 sends built-in kinds
 * such as SelfSubjectAccessReview as protobuf): the `k8s\0` envelope around a
 * runtime.Unknown, and the fields of a message. Every length is checked
 * against the buffer; anything malformed throws.
 *
 * @module
 */

/** The bytes every Kubernetes protobuf body starts with. */
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

export class ProtobufError extends Error {
  override readonly name = 'ProtobufError';
}

/** The object inside a Kubernetes protobuf body: its type and its own encoding. */
export interface KubeProtobufObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly raw: Buffer;
}

/** Whether the body is a Kubernetes protobuf one (by its magic bytes). */
export function isKubeProtobuf(body: Buffer): boolean {
  return body.length >= MAGIC.length && body.subarray(0, MAGIC.length).equals(MAGIC);
}

/**
 * Opens the envelope of a Kubernetes protobuf body.
 *
 * @example
 * const { kind, raw } = unwrapKubeProtobuf(body); // kind 'SelfSubjectAccessReview'
 */
export function unwrapKubeProtobuf(body: Buffer): KubeProtobufObject {
  if (!isKubeProtobuf(body)) throw new ProtobufError('not a Kubernetes protobuf body (no k8s\\0 prefix)');
  const unknown = messageFields(body.subarray(MAGIC.length));
  const typeMeta = messageFields(bytesField(unknown, 1) ?? Buffer.alloc(0));
  const encoding = stringField(unknown, 3) ?? '';
  if (encoding !== '') throw new ProtobufError(`content encoding ${encoding} is not supported`);
  return { apiVersion: stringField(typeMeta, 1) ?? '', kind: stringField(typeMeta, 2) ?? '', raw: bytesField(unknown, 2) ?? Buffer.alloc(0) };
}

/** A message's fields by number: length-delimited values as bytes, varints as numbers (later occurrences last). */
export type MessageFields = ReadonlyMap<number, ReadonlyArray<Buffer | number>>;

/** Splits a message into its fields (wire types varint, 64-bit, length-delimited and 32-bit). */
export function messageFields(message: Buffer): MessageFields {
  const fields = new Map<number, Array<Buffer | number>>();
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (at >= message.length) throw new ProtobufError('truncated varint');
      const byte = message[at++]!;
      // Lengths and field numbers past 2^53 cannot be real here; their low bits are enough to fail the bounds checks.
      if (shift < 53) value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new ProtobufError('varint longer than 10 bytes');
  };
  while (at < message.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) throw new ProtobufError('field number 0');
    let value: Buffer | number;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const length = varint();
      if (length > message.length - at) throw new ProtobufError(`field ${field} runs past the end of the message`);
      value = message.subarray(at, at + length);
      at += length;
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (size > message.length - at) throw new ProtobufError(`field ${field} runs past the end of the message`);
      value = message.subarray(at, at + size);
      at += size;
    } else throw new ProtobufError(`wire type ${wire} (groups) is not supported`);
    const list = fields.get(field);
    if (list) list.push(value);
    else fields.set(field, [value]);
  }
  return fields;
}

/** The last value of a length-delimited field, or undefined when absent. */
export function bytesField(fields: MessageFields, field: number): Buffer | undefined {
  const value = fields.get(field)?.at(-1);
  if (value === undefined) return undefined;
  if (typeof value === 'number') throw new ProtobufError(`field ${field} is a number, not bytes`);
  return value;
}

/** The last value of a string field (UTF-8), or undefined when absent. */
export function stringField(fields: MessageFields, field: number): string | undefined {
  return bytesField(fields, field)?.toString('utf8');
}
