// The payload of a SESSION_DATA of kind Receipt (5): the device hands a technician its signed
// end-of-session receipt (up to 16 KB of JSON) in pieces that each fit one datagram, and the
// technician answers with one "received" once it has every piece. Both travel inside the pair
// session, so only the two ends read them and the session proves who sent each.
//
// RECEIPT PIECE (device → technician)
//    0               1               2               3
//   +---------------+---------------+---------------+---------------+
//   |   part = 1    |  index (u8)   |  count (u8)   |  reserved 0   |  0
//   +---------------+---------------+---------------+---------------+
//   |        transfer ID (u32, ≠ 0): the same for every piece        |  4
//   +-------------------------------+-------------------------------+
//   |  total length (u16, 1..16384) |          reserved 0           |  8
//   +-------------------------------+-------------------------------+
//   |  the receipt's bytes from index × 1200, 1200 of them (fewer    | 12
//   |  in the last piece)                                           |
//   +---------------------------------------------------------------+
//
// RECEIPT RECEIVED (technician → device): the same 12 bytes with part = 2, index 0, the transfer's
// count, ID and total length, and nothing after them.
/** The largest receipt handed over (src/assist/receipt.ts keeps its files within it). */
export const MAX_RECEIPT_BYTES = 16_384
export const RECEIPT_PART_HEADER_BYTES = 12
/** A piece's bytes: with the header, the session's 32 and a RELAY prefix, well inside a 1280-byte IPv6 path. */
export const RECEIPT_PIECE_BYTES = 1200
export const MAX_RECEIPT_PIECES = Math.ceil(MAX_RECEIPT_BYTES / RECEIPT_PIECE_BYTES)

export const ReceiptPartType = { Piece: 1, Received: 2 } as const

export interface ReceiptPart {
  part: 'piece' | 'received'
  transferId: number
  index: number
  count: number
  totalLength: number
  /** a piece's bytes (a view of the payload); empty for received */
  bytes: Buffer
}

/** Why a receipt part was refused: one drop reason for any malformed part. */
export type ReceiptPartResult = { ok: true; value: ReceiptPart } | { ok: false; reason: 'bad-receipt-part' }

/** The pieces of a receipt's bytes, each a whole payload. */
export function encodeReceiptPieces(transferId: number, receipt: Uint8Array): Buffer[] {
  if (receipt.length < 1 || receipt.length > MAX_RECEIPT_BYTES) throw new RangeError(`a receipt is 1..${MAX_RECEIPT_BYTES} bytes, got ${receipt.length}`)
  checkTransferId(transferId)
  const count = Math.ceil(receipt.length / RECEIPT_PIECE_BYTES)
  const pieces: Buffer[] = []
  for (let index = 0; index < count; index++) {
    const bytes = receipt.subarray(index * RECEIPT_PIECE_BYTES, (index + 1) * RECEIPT_PIECE_BYTES)
    const out = Buffer.alloc(RECEIPT_PART_HEADER_BYTES + bytes.length)
    writeHeader(out, ReceiptPartType.Piece, index, count, transferId, receipt.length)
    out.set(bytes, RECEIPT_PART_HEADER_BYTES)
    pieces.push(out)
  }
  return pieces
}

export function encodeReceiptReceived(transferId: number, count: number, totalLength: number): Buffer {
  checkTransferId(transferId)
  const out = Buffer.alloc(RECEIPT_PART_HEADER_BYTES)
  writeHeader(out, ReceiptPartType.Received, 0, count, transferId, totalLength)
  return out
}

/** Untrusted bytes (a decrypted payload): a piece whose place fits its count and total, or a received; never throws. */
export function decodeReceiptPart(buf: Buffer): ReceiptPartResult {
  const bad = { ok: false, reason: 'bad-receipt-part' } as const
  if (buf.length < RECEIPT_PART_HEADER_BYTES || buf[3] !== 0 || buf.readUInt16BE(10) !== 0) return bad
  const type = buf[0]
  const index = buf[1]!
  const count = buf[2]!
  const transferId = buf.readUInt32BE(4)
  const totalLength = buf.readUInt16BE(8)
  if (transferId === 0 || totalLength < 1 || totalLength > MAX_RECEIPT_BYTES || count !== Math.ceil(totalLength / RECEIPT_PIECE_BYTES)) return bad
  const bytes = buf.subarray(RECEIPT_PART_HEADER_BYTES)
  if (type === ReceiptPartType.Received) {
    if (index !== 0 || bytes.length !== 0) return bad
    return { ok: true, value: { part: 'received', transferId, index, count, totalLength, bytes } }
  }
  if (type !== ReceiptPartType.Piece || index >= count) return bad
  const expected = Math.min(RECEIPT_PIECE_BYTES, totalLength - index * RECEIPT_PIECE_BYTES)
  if (bytes.length !== expected) return bad
  return { ok: true, value: { part: 'piece', transferId, index, count, totalLength, bytes } }
}

function writeHeader(out: Buffer, type: number, index: number, count: number, transferId: number, totalLength: number): void {
  out[0] = type
  out[1] = index
  out[2] = count
  out[3] = 0
  out.writeUInt32BE(transferId, 4)
  out.writeUInt16BE(totalLength, 8)
  out.writeUInt16BE(0, 10)
}

function checkTransferId(transferId: number): void {
  if (!Number.isInteger(transferId) || transferId < 1 || transferId > 0xffffffff) throw new RangeError(`transferId must be 1..2^32-1, got ${transferId}`)
}
