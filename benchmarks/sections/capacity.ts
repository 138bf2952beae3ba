// Supernode capacity: a supernode in its own process, loaded from this one over loopback.
// Registrations/s (HELLO → COOKIE → REGISTER → ACK, protocol v2: a member certificate and a signed
// announcement, from 64 source addresses) with fresh certificates (authority signature checked)
// and with cached ones (edges registering again), each beside raw Ed25519 verifies/s of this run,
// and the CPU each process spends per registration; RSS per registered edge at 10,000 and 100,000
// edges, relayed 1400-byte frames/s between two simulated edges, peer queries/s. Targets (issue
// 12): fresh ≥ 0.35 × raw verify, cached ≥ 0.55 ×, ≤ 2 KiB per edge, ≥ 100,000 relayed frames/s.
// OVERLAN_BENCH_CPU_PROF=DIR: the supernode child writes a CPU profile there.
import { fork, type ChildProcess } from 'node:child_process'
import { bindUdp } from '../../src/net/bind.js'
import type { Transport } from '../../src/net/transport.js'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { setImmediate as turn } from 'node:timers/promises'
import sodium from 'sodium-native'
import { SIGNATURE_CONTEXT, destroyIdentity, edgeIdOf, generateAuthority, generateIdentity, issueCertificate, signAnnouncement, type Authority, type Identity } from '../../src/crypto/index.js'
import {
  PacketType,
  RELAY_PREFIX_BYTES,
  SESSION_OVERHEAD,
  decodePacket,
  encodeHello,
  encodePeerQuery,
  encodeRegister,
  writeRelayHeader,
  writeSessionDataHeader,
} from '../../src/wire/index.js'
import { RUNS, opsPerSecond, summarize, withBaseline, type Figure } from '../measure.js'
import { profArgs } from './lab.js'

const SOURCES = 64
/** How long the supernode answers HELLOs before its base RSS is taken. */
const WARM_UP_MS = 2000
const PER_COMMUNITY = 1000
const IN_FLIGHT = 2048

interface Child {
  proc: ChildProcess
  port: number
  ask<T>(msg: object): Promise<T>
}

async function startChild(): Promise<Child> {
  const script = fileURLToPath(new URL('../supernode-child.js', import.meta.url))
  const proc = fork(script, [], { execArgv: ['--expose-gc', ...profArgs()], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
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

interface Member {
  /** kept only for the members that register again (keep); null once destroyed */
  identity: Identity | null
  certificate: Buffer
  edgeId: number
  /** the announcement it registers with (signed before the timed window, as edges sign on their own CPUs) */
  record: Buffer
}

/**
 * Members with certificates of their own, PER_COMMUNITY per community (each its own authority),
 * each with its own MAC and address. An identity's secret key sits in guarded secret memory
 * (pages of its own): 100,000 of them at once would not fit, so each is destroyed once its
 * announcement is signed, unless `keep` (the members that register again).
 */
function makeRecords(count: number, offset: number, keep = false): Member[] {
  const out: Member[] = []
  const now = Math.floor(Date.now() / 1000)
  let authority: Authority = generateAuthority()
  for (let i = 0; i < count; i++) {
    const n = offset + i
    if (i > 0 && n % PER_COMMUNITY === 0) authority = generateAuthority()
    if (i > 0 && i % IDENTITIES_PER_COLLECTION === 0) collectGarbage()
    const identity = generateIdentity()
    const host = n % PER_COMMUNITY
    const certificate = issueCertificate(authority, {
      role: 'member',
      serial: n + 1,
      notBefore: now - 60,
      notAfter: now + 86_400,
      memberKey: identity.publicKey,
      mac: Buffer.from([0x02, 0, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]),
      ipv4: { address: `10.${Math.floor(host / 250) + 1}.${host % 250}.1`, prefix: 8 },
      ipv6: null,
      name: '',
    })
    const record = signAnnouncement(identity, certificate, Date.now(), [])
    if (!keep) destroyIdentity(identity)
    out.push({ identity: keep ? identity : null, certificate, edgeId: edgeIdOf(identity.publicKey), record })
  }
  return out
}

/** The same members with newer announcements: what edges send when they register again (their certificates cached at the supernode). */
function reannounce(members: Member[]): Member[] {
  const timestamp = Date.now()
  return members.map((m) => ({ ...m, record: signAnnouncement(m.identity!, m.certificate, timestamp, []) }))
}

// A full collection on demand in this process, however run.js was started (the flag set at run
// time, then gc taken from a fresh context).
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void
/**
 * Identities made between two collections at most. Each identity's secret key is its own
 * sodium_malloc (guarded pages: four memory mappings), freed only when its Buffer is collected, and
 * V8 does not count that memory: past ~16,000 uncollected ones the process reaches the kernel's
 * 65,530 mappings and sodium_malloc fails, which kills node (a section run died of it, SIGSEGV in
 * the load generator, before this bound). The product never holds more than a few (pair keys live in secret-slab.ts).
 */
const IDENTITIES_PER_COLLECTION = 2000

/** sodium's crypto_sign_verify_detached on an announcement-sized message, in this process: `runs` samples of 0.2 s. */
function rawVerifiesPerSecond(sample: Buffer, runs?: number): number[] {
  const publicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  const secretKey = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES)
  sodium.crypto_sign_keypair(publicKey, secretKey)
  // what a member signature covers: the context string and an announcement's body like the ones registered here
  const message = Buffer.alloc(SIGNATURE_CONTEXT.announcement.length + sample.length - sodium.crypto_sign_BYTES, 0x61)
  const signature = Buffer.alloc(sodium.crypto_sign_BYTES)
  sodium.crypto_sign_detached(signature, message, secretKey)
  return opsPerSecond(() => sodium.crypto_sign_verify_detached(signature, message, publicKey), 0.2, runs)
}

/**
 * The load generator's sockets: the batched ones edges use (dgram would make the generator, not
 * the supernode, the limit: one thread of dgram moves ~70,000 datagrams/s here).
 */
async function sockets(n: number): Promise<Transport[]> {
  const list: Transport[] = []
  for (let i = 0; i < n; i++) list.push(await bindUdp({ address: `127.0.${1 + (i >> 8)}.${(i % 254) + 1}`, port: 0 }))
  return list
}

function sendTo(socket: Transport, packet: Buffer, port: number): void {
  socket.send(packet, 0, packet.length, port, '127.0.0.1')
}

/** No answer for this long ends a registration run: a lost datagram must not hang the bench. */
const STALL_MS = 3000

interface RegistrationRun {
  perSecond: number
  /** registrations that got no REGISTER_ACK (an ERROR, or lost and never answered) */
  failed: number
  /** CPU time this process (the load generator) spent, per registration */
  generatorCpuMicros: number
}

/**
 * Registers every record (full flow), IN_FLIGHT at a time. HELLOs are made before the timed
 * window, as records are signed before it: real edges do both on their own CPUs. The client nonce
 * carries the record's index, so an answer finds its record without a lookup by string.
 */
async function register(port: number, records: { record: Buffer }[], socks: Transport[]): Promise<RegistrationRun> {
  const hellos = records.map((_, i) => {
    const nonce = Buffer.alloc(8)
    nonce.writeUInt32BE(i, 4)
    return encodeHello(nonce)
  })
  let next = 0
  let acked = 0
  let answered = 0
  let inFlight = 0
  const cpuBefore = process.cpuUsage()
  const start = performance.now()
  const launch = (): void => {
    while (inFlight < IN_FLIGHT && next < records.length) {
      sendTo(socks[next % socks.length]!, hellos[next]!, port)
      next++
      inFlight++
    }
  }
  await new Promise<void>((resolve) => {
    let lastAnswer = performance.now()
    const stall = setInterval(() => {
      if (performance.now() - lastAnswer > STALL_MS) finish()
    }, 500)
    const finish = (): void => {
      clearInterval(stall)
      resolve()
    }
    for (const socket of socks) {
      socket.onDatagram((msg) => {
        // only a COOKIE is decoded (its nonce and cookie are needed): an answer is told by its type
        // byte, so that the load generator, which shares this machine's two cores with the
        // supernode's two threads, spends as little of them as it can
        const type = msg.length > 1 ? msg[1] : undefined
        lastAnswer = performance.now()
        if (type === PacketType.Cookie) {
          const p = decodePacket(msg)
          if (!p.ok || p.value.type !== PacketType.Cookie) return
          const index = p.value.clientNonce.readUInt32BE(4)
          if (index < records.length) sendTo(socket, encodeRegister(p.value.clientNonce, p.value.cookie, records[index]!.record), port)
        } else if (type === PacketType.RegisterAck || type === PacketType.Error) {
          if (type === PacketType.RegisterAck) acked++
          answered++
          inFlight--
          if (answered === records.length) finish()
          else launch()
        }
      })
    }
    launch()
  })
  const seconds = (performance.now() - start) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  return { perSecond: acked / seconds, failed: records.length - acked, generatorCpuMicros: (cpu.user + cpu.system) / records.length }
}

/** HELLOs for a while from every socket, each answered with a cookie: no state is kept for them. */
async function warmUp(port: number, socks: Transport[]): Promise<void> {
  // a nonce whose index is no record's: a cookie answering it late is ignored by register()
  const hello = encodeHello(Buffer.from([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]))
  for (const socket of socks) socket.onDatagram(() => {})
  const start = performance.now()
  while (performance.now() - start < WARM_UP_MS) {
    for (let i = 0; i < 64; i++) sendTo(socks[i % socks.length]!, hello, port)
    await turn()
  }
  await new Promise((resolve) => setTimeout(resolve, 200)) // the last answers land, unread
}

export async function capacitySection(): Promise<Figure[]> {
  const figures: Figure[] = []
  const child = await startChild()
  const socks = await sockets(SOURCES)
  try {
    // the base: a supernode that has worked (HELLOs answered for a while: code compiled, heap
    // grown to its working size) but holds no edge; what registrations add on top is theirs
    await warmUp(child.port, socks)
    const base = (await child.ask<{ rss: number }>({ cmd: 'rss' })).rss
    let registered = 0
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

    // registrations/s: 5 runs of 4,000 edges with fresh certificates, then 5 runs of the last
    // 4,000 registering again with newer announcements (their certificates cached); and the CPU
    // each side spends per registration: which process is the wall
    const fresh = { rates: [] as number[], supernodeCpu: [] as number[], generatorCpu: [] as number[], failed: 0, count: 0 }
    const cached = { rates: [] as number[], supernodeCpu: [] as number[], generatorCpu: [] as number[], failed: 0, count: 0 }
    let last: Member[] = []
    // the baseline is sampled right before each timed run: on a shared machine the load drifts,
    // and a ratio against a baseline taken minutes apart would measure the drift
    const verifySamples: number[] = []
    const timed = async (into: typeof fresh, records: Member[]): Promise<void> => {
      // both processes start each run with their garbage collected: a collection of the last run's
      // (or of the records just made) falls outside the timed window (without it, 1 or 2 runs of 5
      // had the load generator at 100-200 µs of CPU per registration instead of ~30; the child
      // collects at 'rss')
      collectGarbage()
      await child.ask({ cmd: 'rss' })
      verifySamples.push(...rawVerifiesPerSecond(records[0]!.record, 1))
      const before = await child.ask<{ cpuMicros: number }>({ cmd: 'cpu' })
      const result = await register(child.port, records, socks)
      const after = await child.ask<{ cpuMicros: number }>({ cmd: 'cpu' })
      into.rates.push(result.perSecond)
      into.supernodeCpu.push((after.cpuMicros - before.cpuMicros) / records.length)
      into.generatorCpu.push(result.generatorCpuMicros)
      into.failed += result.failed
      into.count += records.length
    }
    for (let run = 0; run < RUNS; run++) {
      for (const m of last) if (m.identity !== null) destroyIdentity(m.identity)
      last = makeRecords(4000, registered, true)
      await timed(fresh, last)
      registered += last.length
    }
    for (let run = 0; run < RUNS; run++) await timed(cached, reannounce(last))
    const counters = (await child.ask<{ counters: Record<string, number> }>({ cmd: 'rss' })).counters
    // the baseline: a registration costs at least one Ed25519 verification (the member signature)
    const verifies = summarize('Ed25519 verify (announcement-sized message, before each run)', 'verifies/s', verifySamples)
    figures.push(verifies)
    for (const [what, runs, ratio] of [
      ['fresh certificate', fresh, 0.35],
      ['cached certificate', cached, 0.55],
    ] as const) {
      const note = runs.failed > 0 ? `${runs.failed} of ${runs.count} not acknowledged` : undefined
      const rate = summarize(`registrations, ${what} (HELLO, COOKIE, REGISTER, ACK)`, 'registrations/s', runs.rates, note ? { note } : {})
      figures.push(withBaseline(rate, verifies, { ratio }))
      figures.push(summarize(`supernode CPU per registration, ${what}`, 'µs', runs.supernodeCpu))
      figures.push(summarize(`load generator CPU per registration, ${what}`, 'µs', runs.generatorCpu))
    }
    figures.push(summarize('certificate cache hits / misses over the whole section', 'hits per miss', [(counters.certificateCacheHits ?? 0) / Math.max(1, counters.certificateCacheMisses ?? 0)]))

    // relay: two edges, one socket each; frames of 1400 B from A to B through the supernode
    const [sa, sb] = await sockets(2)
    const pair = makeRecords(2, 10_000_000)
    await register(child.port, [pair[0]!], [sa!])
    await register(child.port, [pair[1]!], [sb!])
    let got = 0
    sb!.onDatagram(() => void got++)
    // a RELAY around a SESSION_DATA of 1400 bytes of frame (its sealed part is junk: the supernode never opens it)
    const packet = Buffer.alloc(RELAY_PREFIX_BYTES + SESSION_OVERHEAD + 1400)
    writeRelayHeader(packet, pair[0]!.edgeId, pair[1]!.edgeId)
    const inner = packet.subarray(RELAY_PREFIX_BYTES)
    let counter = 1
    const relayRates: number[] = []
    for (let run = 0; run < RUNS; run++) {
      const before = got
      const start = performance.now()
      while (performance.now() - start < 1500) {
        for (let i = 0; i < 64; i++) {
          writeSessionDataHeader(inner, 7, counter++)
          sendTo(sa!, packet, child.port) // copied into the socket's ring: the buffer is free again at once
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
    sa!.onDatagram((msg) => {
      if (msg[1] === PacketType.PeerInfo) answers++
    })
    const query = encodePeerQuery(pair[0]!.edgeId, { kind: 'edge', edgeId: pair[1]!.edgeId })
    const queryRates: number[] = []
    for (let run = 0; run < RUNS; run++) {
      const before = answers
      const start = performance.now()
      while (performance.now() - start < 1000) {
        for (let i = 0; i < 64; i++) sendTo(sa!, query, child.port)
        await turn()
      }
      for (let i = 0; i < 20; i++) await turn()
      queryRates.push((answers - before) / ((performance.now() - start) / 1000))
    }
    figures.push(summarize('peer queries answered', 'queries/s', queryRates))
    await sa!.close()
    await sb!.close()
  } finally {
    for (const s of socks) await s.close()
    const exited = new Promise((resolve) => child.proc.once('exit', resolve))
    child.proc.send({ cmd: 'stop' })
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))])
    if (child.proc.exitCode === null) child.proc.kill('SIGKILL')
  }
  return figures
}
