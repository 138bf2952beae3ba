// What the data path relies on: only the right key opens a packet, any changed byte is refused,
// and payloads of every size up to the largest one round-trip.
import t from 'tap'
import { FrameCipher } from '../../src/crypto/index.js'
import { MAX_SEALED_PAYLOAD, PacketType, SEALED_HEADER_BYTES, SEALED_OVERHEAD, writeSealedHeader } from '../../src/wire/index.js'

const key = Buffer.alloc(32, 1)

function sealed(payload: Buffer, counter = 1, cipherKey = key): Buffer {
  const packet = Buffer.alloc(payload.length + SEALED_OVERHEAD)
  writeSealedHeader(packet, PacketType.Data, 11, 22, counter)
  const length = new FrameCipher(cipherKey).seal(packet, payload)
  t.equal(length, packet.length)
  return packet
}

t.test('payloads from 0 bytes to the largest round-trip', (t) => {
  const cipher = new FrameCipher(key)
  const out = Buffer.alloc(MAX_SEALED_PAYLOAD)
  for (const size of [0, 1, 60, 1400, 1514, MAX_SEALED_PAYLOAD]) {
    const payload = Buffer.alloc(size)
    for (let i = 0; i < size; i++) payload[i] = (i * 7) & 0xff
    const n = cipher.open(sealed(payload), out)
    t.equal(n, size)
    t.ok(out.subarray(0, n).equals(payload), `${size} bytes`)
  }
  t.end()
})

t.test('the wrong key is refused', (t) => {
  const packet = sealed(Buffer.from('frame'))
  t.equal(new FrameCipher(Buffer.alloc(32, 2)).open(packet, Buffer.alloc(100)), -1)
  t.end()
})

t.test('a changed byte anywhere (header, ciphertext, tag) is refused', (t) => {
  const packet = sealed(Buffer.alloc(64, 0x55))
  const cipher = new FrameCipher(key)
  const out = Buffer.alloc(128)
  let refused = 0
  for (let i = 0; i < packet.length; i++) {
    for (const bit of [0, 7]) {
      const copy = Buffer.from(packet)
      copy[i]! ^= 1 << bit
      if (cipher.open(copy, out) === -1) refused++
    }
  }
  t.equal(refused, packet.length * 2, `all ${packet.length * 2} single-bit changes refused`)
  t.equal(cipher.open(packet, out), 64, 'the unchanged packet still opens')
  t.end()
})

t.test('the same payload under two counters gives two ciphertexts', (t) => {
  const a = sealed(Buffer.from('same'), 1)
  const b = sealed(Buffer.from('same'), 2)
  t.notOk(a.subarray(SEALED_HEADER_BYTES).equals(b.subarray(SEALED_HEADER_BYTES)))
  t.end()
})

t.test('open refuses a packet shorter than the tag and an output buffer too small', (t) => {
  const cipher = new FrameCipher(key)
  t.equal(cipher.open(Buffer.alloc(SEALED_OVERHEAD - 1), Buffer.alloc(10)), -1)
  t.equal(cipher.open(sealed(Buffer.alloc(20)), Buffer.alloc(19)), -1)
  t.throws(() => new FrameCipher(Buffer.alloc(31)), RangeError)
  t.end()
})
