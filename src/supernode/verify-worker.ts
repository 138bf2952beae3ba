// The supernode's signature worker (signature-checks.ts): each message is a batch of packed
// Ed25519 checks; the answer is the same buffer, moved back, with one byte per check (1 good, 0
// not) written in order at its start. Writing verdict i at byte i never touches a check not yet
// read: every check takes at least 98 bytes, so byte i lies inside check 0..i, all read already.
import { parentPort } from 'node:worker_threads'
import sodium from 'sodium-native'
import { MALFORMED_CHECK } from './signature-checks.js'

const port = parentPort
if (port === null) throw new Error('verify-worker.js runs as a worker thread of the supernode')

port.on('message', (batch: { count: number; bytes: ArrayBuffer }) => {
  const bytes = Buffer.from(batch.bytes)
  let at = 0
  for (let i = 0; i < batch.count; i++) {
    const length = bytes.readUInt16LE(at)
    const publicKey = bytes.subarray(at + 2, at + 34)
    const signature = bytes.subarray(at + 34, at + 98)
    const end = at + 98 + (length === MALFORMED_CHECK ? 0 : length)
    bytes[i] = length !== MALFORMED_CHECK && sodium.crypto_sign_verify_detached(signature, bytes.subarray(at + 98, end), publicKey) ? 1 : 0
    at = end
  }
  port.postMessage(batch.bytes, [batch.bytes])
})
