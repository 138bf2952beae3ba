// One side of the pair-session data-path benchmark (sections/pair-datapath.ts): an edge's data
// path (src/edge/data-path.ts) on the batched UDP socket, with a counting TAP, introduced to its
// peer by a stand-in relay in the main thread; or a raw dgram socket, for the baseline.
import { createSocket } from 'node:dgram'
import { parentPort, workerData } from 'node:worker_threads'
import { identityFromSeed } from '../src/crypto/identity.js'
import { edgeCounters } from '../src/edge/counters.js'
import { Credentials } from '../src/edge/credentials.js'
import { DataPath } from '../src/edge/data-path.js'
import { edgeDropCounters } from '../src/edge/reasons.js'
import { silentLogger } from '../src/log/logger.js'
import { bindUdp } from '../src/net/bind.js'
import { systemClock } from '../src/time/clock.js'
import { endpointOf } from '../src/wire/index.js'
import { CountingTap, blast, frame } from './datapath-parts.js'

export interface PairWorkerInput {
  role: 'rx' | 'tx' | 'rx-raw' | 'tx-raw'
  size: number
  relayPort: number
  seed?: Uint8Array
  certificate?: Uint8Array
  /** the other side's MAC (tx: where frames go) */
  peerMac?: Uint8Array
}
export type PairCommand = { type: 'count' } | { type: 'direct'; peerId: number } | { type: 'blast'; port?: number } | { type: 'stop' }
export type PairReply =
  | { type: 'ready'; edgeId: number; port: number; announcement: Uint8Array }
  | { type: 'count'; count: number; drops: Record<string, number> }
  | { type: 'direct'; direct: boolean }
  | { type: 'blasted'; seconds: number }
  | { type: 'stopped' }

const port = parentPort!
const input = workerData as PairWorkerInput
const reply = (message: PairReply): void => port.postMessage(message)

if (input.role === 'rx' || input.role === 'tx') {
  const identity = identityFromSeed(Buffer.from(input.seed!))
  const credentials = await Credentials.create({ clock: systemClock, identity, certificate: Buffer.from(input.certificate!) })
  const tap = new CountingTap(input.role, credentials.certificate.mac)
  const transport = await bindUdp({ address: '127.0.0.1', port: 0 })
  const counters = edgeCounters()
  const drops = edgeDropCounters()
  const relay = { address: '127.0.0.1', port: input.relayPort, via: null, reflexive: endpointOf('127.0.0.1', transport.local().port) }
  const path = new DataPath({
    credentials,
    transport,
    tap,
    clock: systemClock,
    log: silentLogger,
    supernodes: { from: (address, p, via) => (via === null && p === input.relayPort ? relay : undefined), relayLink: () => relay, query: () => {} },
    counters,
    drops,
    openTransport: () => bindUdp({ address: '127.0.0.1', port: 0 }, 'dgram'),
    linkControl: () => {},
    oldProtocol: () => false,
    revocation: () => {},
    pathChanged: () => {},
  })
  transport.onDatagram(path.inbound.onDatagram)
  tap.onFrame(path.outbound.onFrame)
  path.start()
  const ticker = setInterval(() => path.tick(Date.now()), 50)
  const f = frame(Buffer.from(input.peerMac ?? Buffer.alloc(6)), credentials.certificate.mac, input.size)
  port.on('message', (command: PairCommand) => {
    void (async () => {
      if (command.type === 'count') reply({ type: 'count', count: tap.received, drops: Object.fromEntries(Object.entries({ ...drops, ...path.sessionDrops }).filter(([, n]) => n > 0)) })
      else if (command.type === 'direct') {
        let direct = false
        for (let i = 0; i < 400 && !direct; i++) {
          direct = path.peers.get(command.peerId)?.path.state === 'direct'
          if (i % 20 === 0) tap.receiver?.(f)
          await new Promise((r) => setTimeout(r, 5))
        }
        reply({ type: 'direct', direct })
      } else if (command.type === 'blast') reply({ type: 'blasted', seconds: await blast(() => tap.receiver!(f)) })
      else {
        clearInterval(ticker)
        await path.close()
        credentials.destroy()
        await transport.close()
        reply({ type: 'stopped' })
        port.close()
      }
    })()
  })
  reply({ type: 'ready', edgeId: credentials.edgeId, port: transport.local().port, announcement: credentials.announcement(Date.now(), []) })
} else {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  let received = 0
  socket.on('message', () => void received++)
  // the overlay's datagram for a frame of this size: 32 bytes of session header and tag around it
  const payload = Buffer.alloc(input.size + 32)
  port.on('message', (command: PairCommand) => {
    void (async () => {
      if (command.type === 'count') reply({ type: 'count', count: received, drops: {} })
      else if (command.type === 'blast') {
        const to = command.port!
        reply({ type: 'blasted', seconds: await blast(() => socket.getSendQueueCount() < 512 && socket.send(payload, to, '127.0.0.1')) })
      } else if (command.type === 'stop') {
        socket.close()
        reply({ type: 'stopped' })
        port.close()
      }
    })()
  })
  reply({ type: 'ready', edgeId: 0, port: socket.address().port, announcement: new Uint8Array(0) })
}
