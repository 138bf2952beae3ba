// Protocol v2 pair sessions (src/crypto/noise-session.ts, session-table.ts): complete Noise IK
// handshakes per second (both sides in this thread, certificate signatures checked) beside the raw
// Ed25519 scalar multiplication each one needs ten of; seal + open of 1400-byte frames through a
// session table beside the raw AEAD calls on the same payload in the same run; and a community of
// 1,000 edges in one process (one device, 999 peers, a child with --expose-gc): time for all
// handshakes and memory per pair session.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import sodium from 'sodium-native'
import { ManualClock } from '../../src/time/manual-clock.js'
import { SESSION_HEADER_BYTES, SESSION_OVERHEAD } from '../../src/wire/handshake.js'
import { RUNS, opsPerSecond, summarize, withBaseline, type Figure } from '../measure.js'
import { Wiring } from '../session-pairs.js'

const FRAME_BYTES = 1400
const COMMUNITY_PEERS = 999
const COMMUNITY_RUNS = 3

export async function sessionsSection(): Promise<Figure[]> {
  const figures: Figure[] = []
  figures.push(...handshakes())
  figures.push(...sealOpen())
  figures.push(...(await community()))
  return figures
}

function handshakes(): Figure[] {
  const clock = new ManualClock()
  const wiring = new Wiring(clock)
  const a = wiring.addEdge()
  const b = wiring.addEdge()
  const perSecond = opsPerSecond(
    () => {
      wiring.handshake(a, b)
      wiring.forget(a, b)
      clock.jump(1) // a new pair session each time, a millisecond apart
    },
    0.5,
  )
  // the raw cost underneath: one Ed25519 scalar multiplication (IK: 4 DH per side, plus 2 ephemeral keys)
  const scalar = Buffer.alloc(32, 7)
  scalar[31] = 0x40
  const point = Buffer.alloc(32)
  sodium.crypto_scalarmult_ed25519_base_noclamp(point, scalar)
  const out = Buffer.alloc(32)
  const raw = opsPerSecond(() => sodium.crypto_scalarmult_ed25519_noclamp(out, scalar, point))
  const rawFigure = summarize('raw Ed25519 scalar multiplication (noise-curve-ed DH)', 'ops/s', raw)
  // for comparison: X25519, what the handshake would use with keys converted from Ed25519 instead
  const xScalar = Buffer.alloc(32, 9)
  const xPoint = Buffer.alloc(32)
  sodium.crypto_scalarmult_base(xPoint, xScalar)
  const x25519 = summarize('raw X25519 scalar multiplication (for comparison)', 'ops/s', opsPerSecond(() => sodium.crypto_scalarmult(out, xScalar, xPoint)))
  return [
    withBaseline(summarize('complete IK handshakes, both sides in one thread, certificates verified', 'handshakes/s', perSecond), rawFigure),
    rawFigure,
    withBaseline(x25519, rawFigure),
  ]
}

function sealOpen(): Figure[] {
  const wiring = new Wiring(new ManualClock())
  const a = wiring.addEdge()
  const b = wiring.addEdge()
  wiring.handshake(a, b)
  const sender = a.table.session(b.publicKey)!
  const payload = Buffer.alloc(FRAME_BYTES, 0x5a)
  const packet = Buffer.alloc(FRAME_BYTES + SESSION_OVERHEAD)
  const plain = Buffer.alloc(FRAME_BYTES + 64)
  let lost = 0
  const v2 = opsPerSecond(() => {
    const length = sender.seal(packet, payload)
    const result = b.table.receive(packet.subarray(0, length), plain)
    if (result.length !== FRAME_BYTES) lost++
  })
  if (lost > 0) throw new Error(`v2 seal+open lost ${lost} frames`)

  // raw: the two AEAD calls alone on the same payload and buffers' sizes (protocol v1's sealing,
  // XChaCha20-Poly1305 with one community key, is gone: experiment 15 measured v2 at 0.95-1.23x it)
  const key = Buffer.alloc(32, 7)
  const nonce = Buffer.alloc(12)
  const rawPacket = Buffer.alloc(FRAME_BYTES + SESSION_OVERHEAD)
  const ad = rawPacket.subarray(0, SESSION_HEADER_BYTES)
  const sealed = rawPacket.subarray(SESSION_HEADER_BYTES)
  const plainView = plain.subarray(0, FRAME_BYTES)
  let counter = 1
  const raw = opsPerSecond(() => {
    nonce.writeUInt32LE(counter++ >>> 0, 4)
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(sealed, payload, ad, null, nonce, key)
    sodium.crypto_aead_chacha20poly1305_ietf_decrypt(plainView, null, sealed, ad, nonce, key)
  })
  const rawFigure = summarize(`raw seal+open ${FRAME_BYTES} B (two ChaCha20-Poly1305 calls)`, 'frames/s', raw)
  const v2Figure = summarize(`v2 seal+open ${FRAME_BYTES} B (session keys, ChaCha20-Poly1305, table lookup and replay window)`, 'frames/s', v2)
  const gbit = (ops: number[]): number[] => ops.map((o) => (o * FRAME_BYTES * 8) / 1e9)
  return [withBaseline(v2Figure, rawFigure), rawFigure, summarize(`v2 seal+open ${FRAME_BYTES} B`, 'Gbit/s', gbit(v2))]
}

interface CommunityResult {
  peers: number
  ms: number
  perSessionBytes: number
  rssPerSessionBytes: number
}

async function community(): Promise<Figure[]> {
  const script = fileURLToPath(new URL('../sessions-child.js', import.meta.url))
  const results: CommunityResult[] = []
  for (let run = 0; run < Math.min(RUNS, COMMUNITY_RUNS); run++) {
    const proc = fork(script, [String(COMMUNITY_PEERS)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const result = await new Promise<CommunityResult>((resolve, reject) => {
      proc.once('message', (m: CommunityResult) => resolve(m))
      proc.once('exit', (code) => reject(new Error(`sessions child exited with ${code}`)))
    })
    proc.kill()
    results.push(result)
  }
  const note = `${COMMUNITY_PEERS + 1} edges in one process: one device, ${COMMUNITY_PEERS} peers each handshaking with it`
  return [
    summarize('community: all handshakes with the device', 'ms', results.map((r) => r.ms), { note }),
    summarize('community: time per handshake', 'ms', results.map((r) => r.ms / r.peers)),
    summarize('community: memory per pair session end (heap + external, after GC)', 'B', results.map((r) => r.perSessionBytes)),
    summarize('community: RSS per pair session end (includes locked key pages)', 'B', results.map((r) => r.rssPerSessionBytes)),
  ]
}
