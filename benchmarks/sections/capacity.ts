// Supernode capacity: a supernode in its own process, loaded from this one over loopback.
// Registrations/s (HELLO → COOKIE → REGISTER → ACK, signed records, from 64 source addresses),
// RSS per registered edge at 10,000 and 100,000 edges, relayed 1400-byte frames/s between two
// simulated edges, peer queries/s. Targets: ≥ 10,000 registrations/s, ≤ 2 KiB per edge,
// ≥ 100,000 relayed frames/s.
import { fork, type ChildProcess } from 'node:child_process'
import { createSocket, type Socket } from 'node:dgram'
import { fileURLToPath } from 'node:url'
import { setImmediate as turn } from 'node:timers/promises'
import sodium from 'sodium-native'
import { generateEdgeIdentity, signRecord, type CommunityKeys } from '../../src/crypto/index.js'
import { PacketType, SEALED_OVERHEAD, decodePacket, encodeHello, encodePeerQuery, encodeRegister, writeSealedHeader } from '../../src/wire/index.js'
import { RUNS, summarize, type Figure } from '../measure.js'

const SOURCES = 64
const PER_COMMUNITY = 1000
const IN_FLIGHT = 2048

interface Child {
  proc: ChildProcess
  port: number
  ask<T>(msg: object): Promise<T>
}

async function startChild(): Promise<Child> {
  const script = fileURLToPath(new URL('../supernode-child.js', import.meta.url))
  const proc = fork(script, [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve) => proc.once('message', (m: { port: number }) => resolve(m.port)))
  return {
    proc,
    port,
    ask: <T>(msg: object) =>
      new Promise<T>((resolve) => {
        proc.once('message', (m: T) => resolve(m))
        proc.send(msg)
      }),
  }
}

function communityKeys(): CommunityKeys {
  const signPublicKey = Buffer.alloc(32)
  const signSecretKey = Buffer.alloc(64)
  sodium.crypto_sign_keypair(signPublicKey, signSecretKey)
  const communityId = Buffer.alloc(16)
  sodium.crypto_generichash(communityId, signPublicKey)
  return { communityId, signPublicKey, signSecretKey, dataKey: Buffer.alloc(32) }
}

/** Signed records for `count` edges, PER_COMMUNITY per community, each with its own MAC and address. */
function makeRecords(count: number, offset: number): { record: Buffer; edgeId: number }[] {
  const out: { record: Buffer; edgeId: number }[] = []
  let keys = communityKeys()
  for (let i = 0; i < count; i++) {
    const n = offset + i
    if (i > 0 && n % PER_COMMUNITY === 0) keys = communityKeys()
    const identity = generateEdgeIdentity()
    const mac = Buffer.from([0x02, 0, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255])
    const host = n % PER_COMMUNITY
    const record = signRecord({ timestamp: Date.now(), mac, overlay: { address: `10.${Math.floor(host / 250) + 1}.${host % 250}.1`, prefix: 8 }, name: '', candidates: [] }, keys, identity)
    out.push({ record, edgeId: identity.edgeId })
  }
  return out
}

async function sockets(n: number): Promise<Socket[]> {
  const list: Socket[] = []
  for (let i = 0; i < n; i++) {
    const s = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 })
    await new Promise<void>((r) => s.bind(0, `127.0.${1 + (i >> 8)}.${(i % 254) + 1}`, r))
    list.push(s)
  }
  return list
}

/** Registers every record (full flow), IN_FLIGHT at a time; returns registrations per second. */
async function register(port: number, records: { record: Buffer }[], socks: Socket[]): Promise<number> {
  let next = 0
  let done = 0
  let inFlight = 0
  const pending = new Map<string, { record: Buffer; socket: Socket }>()
  const start = performance.now()
  const launch = (): void => {
    while (inFlight < IN_FLIGHT && next < records.length) {
      const socket = socks[next % socks.length]!
      const nonce = Buffer.alloc(8)
      nonce.writeUInt32BE(next, 4)
      pending.set(nonce.toString('hex'), { record: records[next]!.record, socket })
      socket.send(encodeHello(nonce), port, '127.0.0.1')
      next++
      inFlight++
    }
  }
  await new Promise<void>((resolve) => {
    for (const socket of socks) {
      socket.removeAllListeners('message')
      socket.on('message', (msg) => {
        const p = decodePacket(msg)
        if (!p.ok) return
        if (p.value.type === PacketType.Cookie) {
          const entry = pending.get(p.value.clientNonce.toString('hex'))
          if (entry) entry.socket.send(encodeRegister(p.value.clientNonce, p.value.cookie, entry.record), port, '127.0.0.1')
        } else if (p.value.type === PacketType.RegisterAck || p.value.type === PacketType.Error) {
          done++
          inFlight--
          if (done === records.length) resolve()
          else launch()
        }
      })
    }
    launch()
  })
  return records.length / ((performance.now() - start) / 1000)
}

export async function capacitySection(): Promise<Figure[]> {
  const figures: Figure[] = []
  const child = await startChild()
  const socks = await sockets(SOURCES)
  try {
    const base = (await child.ask<{ rss: number }>({ cmd: 'rss' })).rss
    // registrations/s: 5 runs of 4,000 fresh edges each
    const rates: number[] = []
    let registered = 0
    for (let run = 0; run < RUNS; run++) {
      const records = makeRecords(4000, registered)
      rates.push(await register(child.port, records, socks))
      registered += records.length
    }
    figures.push({ ...summarize('registrations (HELLO, COOKIE, REGISTER, ACK)', 'registrations/s', rates), target: '≥ 10,000/s', met: summarize('', '', rates).median >= 10_000 })

    const rssPerEdge: Figure[] = []
    for (const target of [10_000, 100_000]) {
      while (registered < target) {
        const batch = makeRecords(Math.min(10_000, target - registered), registered)
        await register(child.port, batch, socks)
        registered += batch.length
      }
      const samples: number[] = []
      for (let i = 0; i < 3; i++) {
        const m = await child.ask<{ rss: number; edges: number }>({ cmd: 'rss' })
        samples.push((m.rss - base) / m.edges)
      }
      const f = summarize(`RSS per edge at ${target.toLocaleString('en-US')} edges`, 'bytes', samples)
      rssPerEdge.push({ ...f, target: '≤ 2 KiB', met: f.median <= 2048 })
    }
    figures.push(...rssPerEdge)

    // relay: two edges, one socket each; frames of 1400 B from A to B through the supernode
    const [sa, sb] = await sockets(2)
    const pair = makeRecords(2, 10_000_000)
    await register(child.port, [pair[0]!], [sa!])
    await register(child.port, [pair[1]!], [sb!])
    let got = 0
    sb!.removeAllListeners('message')
    sb!.on('message', () => void got++)
    const packet = Buffer.alloc(1400 + SEALED_OVERHEAD)
    let counter = 1
    const relayRates: number[] = []
    for (let run = 0; run < RUNS; run++) {
      const before = got
      const start = performance.now()
      while (performance.now() - start < 1500) {
        for (let i = 0; i < 64; i++) {
          if (sa!.getSendQueueCount() > 1024) break
          writeSealedHeader(packet, PacketType.Relay, pair[0]!.edgeId, pair[1]!.edgeId, counter++)
          sa!.send(packet, child.port, '127.0.0.1')
        }
        await turn()
      }
      for (let i = 0; i < 20; i++) await turn()
      relayRates.push((got - before) / ((performance.now() - start) / 1000))
    }
    const relay = summarize('relayed frames of 1400 B', 'frames/s', relayRates)
    figures.push({ ...relay, target: '≥ 100,000/s', met: relay.median >= 100_000 })

    // peer queries: A asks for B, again and again; count the PEER_INFO answers
    let answers = 0
    sa!.removeAllListeners('message')
    sa!.on('message', (msg) => {
      if (msg[1] === PacketType.PeerInfo) answers++
    })
    const query = encodePeerQuery(pair[0]!.edgeId, { kind: 'edge', edgeId: pair[1]!.edgeId })
    const queryRates: number[] = []
    for (let run = 0; run < RUNS; run++) {
      const before = answers
      const start = performance.now()
      while (performance.now() - start < 1000) {
        for (let i = 0; i < 64; i++) if (sa!.getSendQueueCount() < 1024) sa!.send(query, child.port, '127.0.0.1')
        await turn()
      }
      for (let i = 0; i < 20; i++) await turn()
      queryRates.push((answers - before) / ((performance.now() - start) / 1000))
    }
    figures.push(summarize('peer queries answered', 'queries/s', queryRates))
    sa!.close()
    sb!.close()
  } finally {
    for (const s of socks) s.close()
    const exited = new Promise((resolve) => child.proc.once('exit', resolve))
    child.proc.send({ cmd: 'stop' })
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))])
    if (child.proc.exitCode === null) child.proc.kill('SIGKILL')
  }
  return figures
}
