// Sealing and opening frames with our wrapper (a pair session's SessionKeys) against the raw
// sodium-native call it wraps, on the same buffers, in the same run. Target: ≥ 0.9 of raw.
import sodium from 'sodium-native'
import { SessionKeys } from '../../src/crypto/session-keys.js'
import { SESSION_HEADER_BYTES, SESSION_OVERHEAD } from '../../src/wire/index.js'
import { opsPerSecond, summarize, withBaseline, type Figure } from '../measure.js'

export function cryptoSection(): Promise<Figure[]> {
  // both directions keyed alike, so that what this side seals it can open (a session with itself);
  // the keys live in the session key slab (secret memory), as an edge's do
  const keys = new SessionKeys(0x0a0b0c0d, 0x0a0b0c0d, true, 0, (slot) => slot.fill(7))
  const key = Buffer.alloc(32, 7)
  const figures: Figure[] = []
  for (const size of [64, 512, 1400]) {
    const payload = Buffer.alloc(size, 0x5a)
    const packet = Buffer.alloc(size + SESSION_OVERHEAD)
    const sealOps = opsPerSecond(() => {
      keys.seal(packet, payload)
    })
    // raw: the same AEAD call on preallocated views and nonce, nothing else
    const ad = packet.subarray(0, SESSION_HEADER_BYTES)
    const out = packet.subarray(SESSION_HEADER_BYTES)
    const nonce = Buffer.alloc(12)
    let counter = 1
    const rawSeal = opsPerSecond(() => {
      nonce.writeUInt32LE(counter++ >>> 0, 4)
      sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, payload, ad, null, nonce, key)
    })
    keys.seal(packet, payload)
    const sealedCounter = keys.sendCounter
    const plain = Buffer.alloc(size + 64)
    const openOps = opsPerSecond(() => {
      keys.open(packet, sealedCounter, plain)
    })
    const sealedNonce = Buffer.alloc(12)
    sealedNonce.writeUInt32LE(sealedCounter % 4294967296, 4)
    sealedNonce.writeUInt32LE(Math.floor(sealedCounter / 4294967296), 8)
    const plainView = plain.subarray(0, size)
    const rawOpen = opsPerSecond(() => {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(plainView, null, out, ad, sealedNonce, key)
    })
    const gbit = (ops: number[]): number[] => ops.map((o) => (o * size * 8) / 1e9)
    const rawSealFigure = summarize(`raw seal ${size} B`, 'ops/s', rawSeal)
    const rawOpenFigure = summarize(`raw open ${size} B`, 'ops/s', rawOpen)
    figures.push(withBaseline(summarize(`seal ${size} B`, 'ops/s', sealOps), rawSealFigure, { ratio: 0.9 }))
    figures.push(summarize(`seal ${size} B`, 'Gbit/s', gbit(sealOps)))
    figures.push(withBaseline(summarize(`open ${size} B`, 'ops/s', openOps), rawOpenFigure, { ratio: 0.9 }))
    figures.push(summarize(`open ${size} B`, 'Gbit/s', gbit(openOps)))
  }
  keys.erase()
  return Promise.resolve(figures)
}
