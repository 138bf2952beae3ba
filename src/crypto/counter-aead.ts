// ChaCha20-Poly1305 (IETF) over a packet whose first 16 bytes are its header: the header is the
// associated data, the nonce is Noise's (4 zero bytes ‖ counter as a little-endian u64), the
// ciphertext and its 16-byte tag follow the header. SESSION_DATA (pair-session keys,
// session-keys.ts) and BROADCAST (a sender's broadcast key, broadcast-keys.ts) are both sealed so.
// Hot path: nothing allocated; views of the caller's buffers.
import sodium from 'sodium-native'

export const AEAD_HEADER_BYTES = 16
export const AEAD_TAG_BYTES = 16
const NONCE_BYTES = 12
const TWO_TO_32 = 4294967296
const AUTH_FAILURE = 'could not verify data'

/**
 * One nonce buffer for every seal and open in this thread: each call fills it and is done with it
 * before returning.
 */
const nonce = Buffer.alloc(NONCE_BYTES)

/**
 * Seals `payload` after the header already written at the start of `out`, under `counter` and
 * `key`. Returns the packet's length (header + payload + tag).
 */
export function sealAfterHeader(out: Buffer, payload: Uint8Array, counter: number, key: Uint8Array): number {
  const length = AEAD_HEADER_BYTES + payload.length + AEAD_TAG_BYTES
  nonceFor(counter)
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
    new Uint8Array(out.buffer, out.byteOffset + AEAD_HEADER_BYTES, length - AEAD_HEADER_BYTES),
    payload,
    new Uint8Array(out.buffer, out.byteOffset, AEAD_HEADER_BYTES),
    null,
    nonce,
    key,
  )
  return length
}

/** Opens `packet` (header, ciphertext, tag) into `out`. Returns the payload length, or -1 when it does not authenticate. */
export function openAfterHeader(packet: Buffer, counter: number, key: Uint8Array, out: Buffer): number {
  const length = packet.length - AEAD_HEADER_BYTES - AEAD_TAG_BYTES
  if (length < 0 || out.length < length) return -1
  nonceFor(counter)
  try {
    sodium.crypto_aead_chacha20poly1305_ietf_decrypt(
      new Uint8Array(out.buffer, out.byteOffset, length),
      null,
      new Uint8Array(packet.buffer, packet.byteOffset + AEAD_HEADER_BYTES, packet.length - AEAD_HEADER_BYTES),
      new Uint8Array(packet.buffer, packet.byteOffset, AEAD_HEADER_BYTES),
      nonce,
      key,
    )
  } catch (err) {
    // sodium-native reports a failed tag check by throwing; that is a bad packet, anything else a bug
    if (err instanceof Error && err.message === AUTH_FAILURE) return -1
    throw err
  }
  return length
}

/** Noise's ChaChaPoly nonce: 4 zero bytes, then the counter as a little-endian u64. */
function nonceFor(counter: number): void {
  nonce.writeUInt32LE(counter % TWO_TO_32, 4)
  nonce.writeUInt32LE(Math.floor(counter / TWO_TO_32), 8)
}
