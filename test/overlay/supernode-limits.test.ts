// The supernode under pressure stays bounded and keeps serving its members: a registration flood
// from one source is rate-limited (and never amplified), and the limits on communities and edges
// are answered with an ERROR and counted. Also n2n-style auto-IP.
import { createSocket, type Socket } from 'node:dgram'
import t, { type Test } from 'tap'
import { ErrorCode, PacketType, decodePacket, encodeHello, encodeRegister } from '../../src/wire/index.js'
import { DEFAULT_SUPERNODE_CONFIG, ERROR_BURST, ERRORS_PER_SECOND, Supernode } from '../../src/supernode/supernode.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { isRegistered, keysFor, registered, startEdge, startSupernode, until } from '../fixtures/overlay.js'
import { sampleAnnouncement } from '../fixtures/sample-packets.js'

const FLOOD_PACKETS = 20_000

async function udpSocket(t: Test, address = '127.0.0.1'): Promise<Socket> {
  const socket = createSocket('udp4')
  t.teardown(() => socket.close())
  await new Promise<void>((resolve) => socket.bind(0, address, resolve))
  return socket
}

t.test('a registration flood from one source is rate-limited while members keep working', async (t) => {
  const sn = await startSupernode(t)
  const a = await startEdge(t, [sn], { relayOnly: true })
  const b = await startEdge(t, [sn], { relayOnly: true })
  await Promise.all([registered(a), registered(b)])

  // another host on the loopback network: the members (127.0.0.1) are not behind the flooder's address
  const flood = await udpSocket(t, '127.0.0.2')
  let receivedBytes = 0
  let replies = 0
  flood.on('message', (msg) => {
    receivedBytes += msg.length
    replies++
  })
  const hello = encodeHello(Buffer.alloc(8, 1))
  const register = encodeRegister(Buffer.alloc(8, 2), Buffer.alloc(20), sampleAnnouncement())
  let sentBytes = 0
  const framesSent = 200
  const floodStart = Date.now()
  // bounded: FLOOD_PACKETS datagrams in bursts of 500, interleaved with member traffic
  for (let i = 0; i < FLOOD_PACKETS; i++) {
    const packet = i % 2 === 0 ? hello : register
    flood.send(packet, sn.port, '127.0.0.1')
    sentBytes += packet.length
    if (i % 100 === 0) a.tap.inject(ipv4Frame(b.tap.mac, a.tap.mac, '10.9.0.1', b.edge.overlay!.address, 200, i % 250))
    // the flood runs in the supernode's own process: libuv reads at most 32 datagrams per socket and
    // loop turn, so yield every 20 or the flood outruns the reader it shares a thread with
    if (i % 20 === 19) await new Promise((resolve) => setImmediate(resolve))
  }
  await until('member frames delivered', () => b.tap.written.length >= framesSent * 0.99, 10_000)
  t.ok(b.tap.written.length >= framesSent * 0.99, `${b.tap.written.length} of ${framesSent} member frames arrived during the flood`)
  await until('flood processed', () => sn.counters.packetsIn >= FLOOD_PACKETS * 0.9, 10_000)
  t.ok(sn.drops['rate-limited'] > FLOOD_PACKETS / 2, `most of the flood was rate-limited (${sn.drops['rate-limited']})`)
  t.ok(receivedBytes <= sentBytes, `amplification ≤ 1: ${receivedBytes} bytes back for ${sentBytes} sent (${replies} replies)`)
  // what the limiters allow this source in the time the flood took (a busy machine stretches it):
  // COOKIEs within the control rate, ERRORs within the error rate, each with its burst
  const seconds = (Date.now() - floodStart) / 1000
  const { controlRate } = DEFAULT_SUPERNODE_CONFIG
  const allowed = Math.ceil(controlRate.burst + controlRate.perSecond * seconds + ERROR_BURST + ERRORS_PER_SECOND * seconds)
  t.ok(replies <= allowed && replies < FLOOD_PACKETS / 20, `a flooding source gets a bounded number of answers: ${replies} in ${seconds.toFixed(1)} s (the limiters allow ${allowed})`)
  t.equal(sn.registry.edges.size, 2, 'the flood registered nothing')
  // and the members' control traffic still works: a fresh edge registers right after
  const c = await startEdge(t, [sn])
  await registered(c)
  t.pass('a new edge registers right after the flood')
})

t.test('limits: communities and edges per community are bounded and refusals counted', async (t) => {
  const sn = await startSupernode(t, { maxCommunities: 1, maxEdgesPerCommunity: 2 })
  const a = await startEdge(t, [sn])
  const b = await startEdge(t, [sn])
  await Promise.all([registered(a), registered(b)])
  const refusedBefore = sn.drops['community-full']
  const c = await startEdge(t, [sn])
  await until('community full', () => sn.drops['community-full'] > refusedBefore)
  t.notOk(isRegistered(c), 'a third edge is refused: community full')
  const other = await startEdge(t, [sn], { community: 'other', keys: await keysFor('other', 'x') })
  await until('too many communities', () => sn.drops['too-many-communities'] > 0)
  t.notOk(isRegistered(other), 'a second community is refused')
  t.equal(sn.registry.communities.size, 1)
  t.equal(sn.registry.edges.size, 2)
  t.match(sn.metrics(), /overlan_supernode_dropped_total\{reason="community-full"\} [1-9]/)
})

t.test('auto-IP: next to the first member with an address, stable across a supernode restart', async (t) => {
  const sn = await startSupernode(t)
  const port = sn.port
  const device = await startEdge(t, [sn], { overlay: { address: '10.44.0.1', prefix: 24 } })
  await registered(device)
  const tech = await startEdge(t, [sn], { overlay: null })
  await registered(tech)
  const assigned = tech.edge.overlay
  t.match(assigned, { address: /^10\.44\.0\.\d+$/, prefix: 24 }, `assigned ${assigned?.address} in the device's subnet`)
  t.not(assigned?.address, '10.44.0.1')

  await sn.stop()
  const again = await Supernode.start({ port, bindAddress: '127.0.0.1', mgmt: null })
  t.teardown(() => again.stop())
  // make both register again now instead of waiting for their next keepalive
  for (const e of [device, tech]) e.edge.reregister()
  await until('both back', () => again.registry.edges.size === 2)
  t.same(tech.edge.overlay, assigned, 'the same address after the restart')
  t.equal(again.registry.edges.get(tech.edge.edgeId)?.overlay?.address, assigned?.address)

  // a community with nobody holding an address gets a /24 from the supernode's range
  const loner = await startEdge(t, [again], { community: 'auto', keys: await keysFor('auto', 'k'), overlay: null })
  await registered(loner)
  t.match(loner.edge.overlay, { address: /^10\.(1[2-9][0-9]|2[0-5][0-9])\.\d+\.\d+$/, prefix: 24 }, `from 10.128.0.0/9: ${loner.edge.overlay?.address}`)
})

t.test('HELLO is answered with a smaller COOKIE; a REGISTER with a bad cookie gets ERROR bad-cookie', async (t) => {
  const sn = await startSupernode(t)
  const socket = await udpSocket(t)
  const replies: Buffer[] = []
  socket.on('message', (msg) => replies.push(msg))
  const hello = encodeHello(Buffer.alloc(8, 9))
  socket.send(hello, sn.port, '127.0.0.1')
  await until('cookie', () => replies.length === 1)
  t.ok(replies[0]!.length < hello.length, `${replies[0]!.length} bytes back for ${hello.length}`)
  const cookie = decodePacket(replies[0]!)
  t.match(cookie, { ok: true, value: { type: PacketType.Cookie, reflexive: { address: '127.0.0.1', port: socket.address().port } } })
  socket.send(encodeRegister(Buffer.alloc(8, 9), Buffer.alloc(20, 7), sampleAnnouncement()), sn.port, '127.0.0.1')
  await until('refusal', () => replies.length === 2)
  t.match(decodePacket(replies[1]!), { ok: true, value: { type: PacketType.Error, code: ErrorCode.BadCookie } })
  t.equal(sn.drops['bad-cookie'], 1)
})
