// Bounds-checked reading and writing of packet fields. A read past the end does not throw:
// it records the first reason and returns zeros, so a decoder reads its whole layout and
// checks `reason` once at the end. Only the codec uses these.
import type { CodecReason } from './reasons.js'
import { MAX_U53 } from './header.js'

const TWO_TO_32 = 4294967296
const EMPTY = Buffer.alloc(0)

export class Reader {
  pos = 0
  reason: CodecReason | null = null

  constructor(readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos
  }

  fail(reason: CodecReason): void {
    this.reason ??= reason
  }

  private take(n: number): number {
    if (this.reason !== null) return -1
    if (this.pos + n > this.buf.length) {
      this.reason = 'truncated'
      return -1
    }
    const at = this.pos
    this.pos += n
    return at
  }

  u8(): number {
    const at = this.take(1)
    return at < 0 ? 0 : (this.buf[at] as number)
  }

  u16(): number {
    const at = this.take(2)
    return at < 0 ? 0 : this.buf.readUInt16BE(at)
  }

  u32(): number {
    const at = this.take(4)
    return at < 0 ? 0 : this.buf.readUInt32BE(at)
  }

  /** A u64 field that must hold a safe integer (IDs, counters, millisecond timestamps). */
  u53(reason: CodecReason): number {
    const at = this.take(8)
    if (at < 0) return 0
    const value = readU53(this.buf, at)
    if (value < 0) this.fail(reason)
    return value < 0 ? 0 : value
  }

  /** A view of the next n bytes (no copy). */
  bytes(n: number): Buffer {
    const at = this.take(n)
    return at < 0 ? EMPTY : this.buf.subarray(at, at + n)
  }

  zero(n: number): void {
    const at = this.take(n)
    if (at < 0) return
    for (let i = at; i < at + n; i++) {
      if (this.buf[i] !== 0) {
        this.fail('nonzero-reserved')
        return
      }
    }
  }

  /** The reason this packet is refused, or null: reads that overran, or bytes left unread. */
  finish(): CodecReason | null {
    if (this.reason === null && this.pos !== this.buf.length) this.reason = 'trailing-bytes'
    return this.reason
  }
}

/** Reads a big-endian u64 as a number; -1 when it exceeds 2^53 - 1. */
export function readU53(buf: Buffer, offset: number): number {
  const hi = buf.readUInt32BE(offset)
  if (hi > 0x1fffff) return -1
  return hi * TWO_TO_32 + buf.readUInt32BE(offset + 4)
}

export function writeU53(buf: Buffer, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_U53) throw new RangeError(`u53 field out of range: ${value}`)
  buf.writeUInt32BE(Math.floor(value / TWO_TO_32), offset)
  buf.writeUInt32BE(value % TWO_TO_32, offset + 4)
}

/** Encoders compute exact sizes first, then fill one buffer; a mismatch is a bug and throws. */
export class Writer {
  pos = 0
  readonly buf: Buffer

  constructor(size: number) {
    this.buf = Buffer.alloc(size)
  }

  u8(value: number): this {
    this.buf.writeUInt8(value, this.pos)
    this.pos += 1
    return this
  }

  u16(value: number): this {
    this.buf.writeUInt16BE(value, this.pos)
    this.pos += 2
    return this
  }

  u32(value: number): this {
    this.buf.writeUInt32BE(value, this.pos)
    this.pos += 4
    return this
  }

  u53(value: number): this {
    writeU53(this.buf, this.pos, value)
    this.pos += 8
    return this
  }

  bytes(value: Uint8Array, expectedLength?: number): this {
    if (expectedLength !== undefined && value.length !== expectedLength) {
      throw new RangeError(`field must be ${expectedLength} bytes, got ${value.length}`)
    }
    this.buf.set(value, this.pos)
    this.pos += value.length
    return this
  }

  skip(n: number): this {
    this.pos += n
    return this
  }

  done(): Buffer {
    if (this.pos !== this.buf.length) throw new RangeError(`encoder wrote ${this.pos} of ${this.buf.length} bytes`)
    return this.buf
  }
}

/** The u64 in 8 bytes as a number; -1 when it is not a safe integer (or not 8 bytes). */
export function u53From(buf: Buffer): number {
  return buf.length === 8 ? readU53(buf, 0) : -1
}

/** 8 bytes holding `value` as a u64: the proof or subject field of ERROR, for one. */
export function u53Bytes(value: number): Buffer {
  const buf = Buffer.alloc(8)
  writeU53(buf, 0, value)
  return buf
}

/**
 * 8 opaque bytes (a client nonce) as one value: what a supernode keeps per registered edge to
 * prove its ERRORs with, 16 bytes on the heap where a Buffer of its own would cost ~100.
 */
export function u64From(buf: Buffer): bigint {
  return buf.readBigUInt64BE(0)
}

/** The 8 bytes of a value made by u64From. */
export function u64Bytes(value: bigint): Buffer {
  const buf = Buffer.alloc(8)
  buf.writeBigUInt64BE(value, 0)
  return buf
}
