// A member that sends malformed SCTP packets inside its pair session (SESSION_DATA kind 4) can
// neither stop nor hang an edge: a packet too short or whose chunk lengths leave it (a length of 0
// kept werift's parser looping for ever) is dropped by the codec, one that werift refuses by
// throwing (a bad checksum, an unknown chunk type) is counted instead of becoming an unhandled
// rejection (which ends a node process), and the association keeps carrying streams. Two stream
// hubs in one process, wired to each other as their edges' data paths would.
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import t from 'tap'
import { crc32c } from 'werift-sctp/lib/common/src/crc.js'
import type { Peer } from '../../src/edge/peers.js'
import { StreamHub } from '../../src/edge/streams/hub.js'
import { silentLogger } from '../../src/log/logger.js'
import { systemClock } from '../../src/time/clock.js'
import { echoServer, exchange } from '../fixtures/userspace.js'

const DEVICE_IP = '10.9.0.1'
const ECHO_PORT = 7

/** What the hub reads of a peer: its edge ID, certificate and session (a real Peer has much more). */
function peerOf(edgeId: number, role: string, ip: string): Peer {
  const certificate = { role, name: role, ipv4: { address: ip, prefix: 24 } }
  return { edgeId, identity: { certificate, fingerprint: Buffer.alloc(32, edgeId) }, session: { state: 'ready', initiate() {} } } as unknown as Peer
}

/** An SCTP packet: common header (ports 5000, tag), the chunks as given, and a checksum werift accepts. */
function sctpPacket(tag: number, chunks: Buffer): Buffer {
  const packet = Buffer.concat([Buffer.alloc(12), chunks])
  packet.writeUInt16BE(5000, 0)
  packet.writeUInt16BE(5000, 2)
  packet.writeUInt32BE(tag, 4)
  packet.writeUInt32LE(crc32c(packet), 8)
  return packet
}

t.test("malformed SCTP packets from a peer are dropped and counted, and its association keeps carrying streams", async (t) => {
  const rejections: unknown[] = []
  const onRejection = (reason: unknown): void => void rejections.push(reason)
  process.on('unhandledRejection', onRejection)
  t.teardown(() => process.off('unhandledRejection', onRejection))

  const echoPort = await echoServer(t)

  const devicePeer = peerOf(1, 'device', DEVICE_IP)
  const technicianPeer = peerOf(2, 'technician', '10.9.0.2')
  // packets cross on a later turn of the event loop, as through a socket
  const hubs: { device?: StreamHub; technician?: StreamHub } = {}
  hubs.device = new StreamHub({
    clock: systemClock,
    log: silentLogger,
    send: (_peer, packet) => void setImmediate(() => hubs.technician?.receive(devicePeer, Buffer.from(packet))),
    peerByAddress: () => undefined,
    query: () => {},
    acceptor: { allow: null, connect: (port) => connect({ host: '127.0.0.1', port: port === ECHO_PORT ? echoPort : 1, allowHalfOpen: true }) },
  })
  hubs.technician = new StreamHub({
    clock: systemClock,
    log: silentLogger,
    send: (_peer, packet) => void setImmediate(() => hubs.device?.receive(technicianPeer, Buffer.from(packet))),
    peerByAddress: (ip) => (ip === DEVICE_IP ? devicePeer : undefined),
    query: () => {},
    acceptor: null,
  })
  const { device, technician } = hubs
  t.teardown(() => {
    technician.close()
    device.close()
  })
  const roundTrip = async (text: string): Promise<string> => {
    const [local, remote] = await socketPair()
    const refusal = await technician.open(DEVICE_IP, ECHO_PORT, remote)
    if (refusal !== null) throw new Error(`refused: ${refusal}`)
    return (await exchange(local, Buffer.from(text))).toString()
  }

  // before any association: the codec's refusals (nothing reaches werift)
  device.receive(technicianPeer, Buffer.alloc(8))
  device.receive(technicianPeer, sctpPacket(0, Buffer.from([11, 0, 0, 0, 1, 2, 3, 4])))
  device.receive(technicianPeer, sctpPacket(0, Buffer.from([0, 0, 0x40, 0, 1, 2, 3, 4])))
  t.equal(device.counters.drops['sctp-short'], 1, 'a packet shorter than a header and a chunk: sctp-short')
  t.equal(device.counters.drops['sctp-chunk-length'], 2, 'a chunk length of 0 (werift would loop for ever) and one past the end: sctp-chunk-length')

  t.equal(await roundTrip('first'), 'first', 'a stream carries bytes both ways')
  // the association is up: werift gets what the codec lets through, and refuses these by throwing
  const badChecksum = sctpPacket(0, Buffer.from([0, 3, 0, 20, ...Buffer.alloc(16)]))
  badChecksum.writeUInt32LE(~badChecksum.readUInt32LE(8) >>> 0, 8)
  device.receive(technicianPeer, badChecksum)
  device.receive(technicianPeer, sctpPacket(0, Buffer.from([0xc1, 0, 0, 4])))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(device.counters.drops['sctp-refused'], 2, 'a bad checksum and an unknown chunk type: sctp-refused')
  t.equal(await roundTrip('after'), 'after', 'the association still carries a new stream')
  t.same(rejections, [], 'no unhandled rejection')
})

/** Two connected loopback sockets: the technician's program's end and the end the hub carries. */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const accepted = once(server, 'connection')
  const local = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port, allowHalfOpen: true })
  const [remote] = (await accepted) as [Socket]
  server.close()
  return [local, remote]
}
