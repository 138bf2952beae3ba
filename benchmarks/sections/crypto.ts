// Sealing and opening frames with our wrapper (FrameCipher) against the raw sodium-native call it
// wraps, on the same buffers, in the same run. Target: ≥ 0.9 of raw.
import sodium from 'sodium-native'
import { FrameCipher } from '../../src/crypto/aead.js'
import { secretBuffer } from '../../src/crypto/secure-memory.js'
import { PacketType, SEALED_HEADER_BYTES, SEALED_OVERHEAD, writeSealedHeader } from '../../src/wire/index.js'
import { opsPerSecond, summarize, withBaseline, type Figure } from '../measure.js'

export function cryptoSection(): Promise<Figure[]> {
  // in secret memory, as the edge's data key is (src/crypto/secure-memory.ts)
  const key = secretBuffer(32).fill(7)
  const cipher = new FrameCipher(key)
  const figures: Figure[] = []
  for (const size of [64, 512, 1400]) {
    const payload = Buffer.alloc(size, 0x5a)
    const packet = Buffer.alloc(size + SEALED_OVERHEAD)
    let counter = 1
    writeSealedHeader(packet, PacketType.Data, 11, 22, counter)
    const sealOps = opsPerSecond(() => {
      packet.writeUInt32BE(counter++ >>> 0, 24)
      cipher.seal(packet, payload)
    })
    // raw: the same AEAD call on preallocated views and nonce, nothing else
    const ad = packet.subarray(0, SEALED_HEADER_BYTES)
    const out = packet.subarray(SEALED_HEADER_BYTES)
    const nonce = Buffer.alloc(24)
    const rawSeal = opsPerSecond(() => {
      nonce.writeUInt32BE(counter++ >>> 0, 12)
      sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out, payload, ad, null, nonce, key)
    })
    writeSealedHeader(packet, PacketType.Data, 11, 22, 5)
    cipher.seal(packet, payload)
    const plain = Buffer.alloc(size + 64)
    const openOps = opsPerSecond(() => {
      cipher.open(packet, plain)
    })
    const sealedNonce = Buffer.alloc(24)
    packet.copy(sealedNonce, 0, 4, 12)
    packet.copy(sealedNonce, 8, 20, 28)
    const plainView = plain.subarray(0, size)
    const rawOpen = opsPerSecond(() => {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plainView, null, out, ad, sealedNonce, key)
    })
    const gbit = (ops: number[]): number[] => ops.map((o) => (o * size * 8) / 1e9)
    const rawSealFigure = summarize(`raw seal ${size} B`, 'ops/s', rawSeal)
    const rawOpenFigure = summarize(`raw open ${size} B`, 'ops/s', rawOpen)
    figures.push(withBaseline(summarize(`seal ${size} B`, 'ops/s', sealOps), rawSealFigure, { ratio: 0.9 }))
    figures.push(summarize(`seal ${size} B`, 'Gbit/s', gbit(sealOps)))
    figures.push(withBaseline(summarize(`open ${size} B`, 'ops/s', openOps), rawOpenFigure, { ratio: 0.9 }))
    figures.push(summarize(`open ${size} B`, 'Gbit/s', gbit(openOps)))
  }
  return Promise.resolve(figures)
}
