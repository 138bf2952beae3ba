// The hostile traffic generator, run as its own process by supernode-under-attack.test.ts:
// bounded in time (--seconds) and count (--max), it sends to one supernode port every kind of bad
// packet, then reports how many bytes it sent to and received from the supernode, per socket kind.
import { createSocket, type Socket } from 'node:dgram'
import sodium from 'sodium-native'
import { generateEdgeIdentity, signRecord, type CommunityKeys } from '../../src/crypto/index.js'
import { MAX_PACKET_BYTES, PacketType, SEALED_OVERHEAD, decodePacket, encodeHello, encodePeerQuery, encodeRegister, writeSealedHeader } from '../../src/wire/index.js'
import { allSamples } from '../fixtures/sample-packets.js'

const [port, seconds, max, victimId] = process.argv.slice(2).map(Number) as [number, number, number, number]
const SOURCES = 200
const COMMUNITIES = 10_000
const samples = [...allSamples().values()]

function randomCommunity(): CommunityKeys {
  const signPublicKey = Buffer.alloc(32)
  const signSecretKey = Buffer.alloc(64)
  sodium.crypto_sign_keypair(signPublicKey, signSecretKey)
  return { communityId: Buffer.alloc(16), signPublicKey, signSecretKey, dataKey: Buffer.alloc(32) }
}

async function bound(n: number): Promise<Socket[]> {
  const out: Socket[] = []
  for (let i = 0; i < n; i++) {
    const s = createSocket('udp4')
    s.on('error', () => {})
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
    out.push(s)
  }
  return out
}

const sockets = await bound(SOURCES)
const stats = { sent: 0, sentBytes: 0, received: 0, receivedBytes: 0, registeredSources: 0, madeUpCommunities: 0 }
/** per socket: bytes out and in, and whether the supernode accepted a registration from it */
const perSource = new Map<Socket, { out: number; in: number; registered: boolean }>()
for (const s of sockets) {
  perSource.set(s, { out: 0, in: 0, registered: false })
  s.on('message', (msg) => {
    const p = perSource.get(s)!
    p.in += msg.length
    stats.received++
    stats.receivedBytes += msg.length
    if (msg[1] === PacketType.RegisterAck) p.registered = true
  })
}

function send(s: Socket, buf: Buffer): void {
  if (stats.sent >= max) return
  stats.sent++
  stats.sentBytes += buf.length
  perSource.get(s)!.out += buf.length
  s.send(buf, port, '127.0.0.1')
}

// a cookie for socket 0, to make registrations that pass the cookie check
const cookieSocket = sockets[0]!
const nonce = Buffer.alloc(8, 0x42)
const cookie = await new Promise<Buffer>((resolve) => {
  cookieSocket.once('message', (msg) => {
    const p = decodePacket(msg)
    if (p.ok && p.value.type === PacketType.Cookie) resolve(p.value.cookie)
  })
  send(cookieSocket, encodeHello(nonce))
})
const goodRegister = encodeRegister(nonce, cookie, signRecord({ timestamp: Date.now(), mac: Buffer.from('02aa00000001', 'hex'), overlay: null, name: 'mallory', candidates: [] }, randomCommunity(), generateEdgeIdentity()))
const badSignature = Buffer.from(goodRegister)
badSignature[badSignature.length - 70]! ^= 0x01

const attacks: ((i: number) => void)[] = [
  // random bytes, any size up to past the limit
  (i) => send(sockets[i % SOURCES]!, Buffer.from(Array.from({ length: Math.floor(Math.random() * (MAX_PACKET_BYTES + 60)) }, () => Math.floor(Math.random() * 256)))),
  // every packet type cut short, one byte long, or at the size limit
  (i) => {
    const sample = samples[i % samples.length]!
    const variants = [sample.subarray(0, sample.length - 1), Buffer.concat([sample, Buffer.from([0])]), Buffer.concat([sample, Buffer.alloc(MAX_PACKET_BYTES - sample.length + 1)])]
    send(sockets[i % SOURCES]!, variants[i % 3]!)
  },
  // length and count fields off by one and at their maximum (the record's name length and candidate count)
  (i) => {
    const b = Buffer.from(goodRegister)
    const nameLength = 32 + 32 + 32 + 8 + 6 + 5
    b[nameLength] = [1, 32, 33, 255][i % 4]!
    send(sockets[i % SOURCES]!, b)
  },
  // a valid-looking registration with a bad signature, and valid ones replayed from other sources
  (i) => send(sockets[i % SOURCES]!, i % 2 === 0 ? badSignature : goodRegister),
  // registrations for made-up communities (valid signatures, one cookie): up to COMMUNITIES of them
  () => {
    if (stats.madeUpCommunities >= COMMUNITIES) return
    stats.madeUpCommunities++
    send(cookieSocket, encodeRegister(nonce, cookie, signRecord({ timestamp: Date.now(), mac: Buffer.from('02bb00000001', 'hex'), overlay: null, name: '', candidates: [] }, randomCommunity(), generateEdgeIdentity())))
  },
  // a relay flood toward the victim edge, from sources that are no members
  (i) => {
    const frame = Buffer.alloc(1400 + SEALED_OVERHEAD)
    writeSealedHeader(frame, PacketType.Relay, 1 + (i % 1000), victimId, i + 1)
    send(sockets[i % SOURCES]!, frame)
  },
  // a flood of peer queries
  (i) => send(sockets[i % SOURCES]!, encodePeerQuery(1 + (i % 5000), { kind: 'edge', edgeId: victimId })),
]

const started = Date.now()
let i = 0
while (Date.now() - started < seconds * 1000 && stats.sent < max) {
  for (let burst = 0; burst < 20; burst++, i++) attacks[i % attacks.length]!(Math.floor(i / attacks.length))
  await new Promise((r) => setImmediate(r))
}
await new Promise((r) => setTimeout(r, 300))
let unverifiedOut = 0
let unverifiedIn = 0
for (const [, p] of perSource) {
  if (p.registered) {
    stats.registeredSources++
    continue
  }
  unverifiedOut += p.out
  unverifiedIn += p.in
}
for (const s of sockets) s.close()
process.send!({ ...stats, unverifiedOut, unverifiedIn, seconds: (Date.now() - started) / 1000 }, () => process.disconnect())
