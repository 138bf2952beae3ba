// The security properties of the data path: a wrong key gets nobody in, a member cannot pose as
// another member's MAC, and an edge delivers only frames addressed to itself (forwarding disabled).
import { createSocket } from 'node:dgram'
import t from 'tap'
import { deriveCommunityKeys, FrameCipher, generateEdgeIdentity, signRecord } from '../../src/crypto/index.js'
import { PacketType, SEALED_OVERHEAD, decodePacket, encodeHello, encodeRegister, writeSealedHeader, ErrorCode } from '../../src/wire/index.js'
import { arpBroadcast, ipv4Frame, ipv6Frame, mac } from '../fixtures/frames.js'
import { directEndpointOf, keysFor, pathOf, peerOf, registered, startEdge, startSupernode, until } from '../fixtures/overlay.js'

t.test('a wrong key can neither register into the community nor inject a frame', async (t) => {
  const sn = await startSupernode(t)
  const a = await startEdge(t, [sn])
  const b = await startEdge(t, [sn])
  await Promise.all([registered(a), registered(b)])
  a.tap.inject(ipv4Frame(b.tap.mac, a.tap.mac, '10.9.0.1', b.edge.overlay!.address))
  await until('direct', () => pathOf(a, b) === 'direct')

  const good = await keysFor()
  const wrong = await deriveCommunityKeys('lab', 'not-the-secret')
  t.notOk(wrong.communityId.equals(good.communityId), 'a wrong key derives another community ID')

  // 1. register: a record naming the real community's public key, signed with the wrong key
  const socket = createSocket('udp4')
  t.teardown(() => socket.close())
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  const replies: Buffer[] = []
  socket.on('message', (msg) => replies.push(msg))
  const nonce = Buffer.alloc(8, 3)
  socket.send(encodeHello(nonce), sn.port, '127.0.0.1')
  await until('cookie', () => replies.length === 1)
  const cookie = decodePacket(replies[0]!)
  if (!cookie.ok || cookie.value.type !== PacketType.Cookie) return t.fail('no cookie')
  const forged = signRecord({ timestamp: Date.now(), mac: mac(0x66), overlay: null, name: 'intruder', candidates: [] }, { ...wrong, signPublicKey: good.signPublicKey }, generateEdgeIdentity())
  socket.send(encodeRegister(nonce, cookie.value.cookie, forged), sn.port, '127.0.0.1')
  await until('refusal', () => replies.length === 2)
  const refusal = decodePacket(replies[1]!)
  t.match(refusal, { ok: true, value: { type: PacketType.Error, code: ErrorCode.BadSignature } }, 'the supernode refuses the registration')
  t.equal(sn.drops['bad-signature'], 1)
  t.equal(sn.registry.edges.size, 2, 'still only the two members')

  // 2. inject: a sealed frame straight to b's endpoint, sealed with the wrong data key
  const frame = ipv4Frame(b.tap.mac, mac(0x66), '10.9.0.66', b.edge.overlay!.address)
  const packet = Buffer.alloc(frame.length + SEALED_OVERHEAD)
  writeSealedHeader(packet, PacketType.Data, 12345, b.edge.edgeId, 1)
  new FrameCipher(wrong.dataKey).seal(packet, frame)
  const bDirect = directEndpointOf(a, b)!
  const before = b.tap.written.length
  for (let i = 0; i < 5; i++) socket.send(packet, bDirect.port, bDirect.address)
  await until('b counted the forgeries', () => b.edge.status().drops['auth-failed'] === 5)
  t.equal(b.tap.written.length, before, 'nothing reached b’s host')
  t.equal(peerOf(b, 12345), undefined, 'and no peer state was created for the forger')
})

t.test('a frame from b claiming a’s MAC is dropped', async (t) => {
  const sn = await startSupernode(t)
  const a = await startEdge(t, [sn])
  const b = await startEdge(t, [sn])
  const c = await startEdge(t, [sn])
  await Promise.all([registered(a), registered(b), registered(c)])
  // c learns a and b first (an honest frame from each)
  a.tap.inject(ipv4Frame(c.tap.mac, a.tap.mac, '10.9.0.1', c.edge.overlay!.address))
  b.tap.inject(ipv4Frame(c.tap.mac, b.tap.mac, '10.9.0.2', c.edge.overlay!.address))
  await c.tap.waitForWritten(2)
  // b now sends with a's MAC as its source, as unicast and as broadcast
  b.tap.inject(ipv4Frame(c.tap.mac, a.tap.mac, '10.9.0.1', c.edge.overlay!.address))
  b.tap.inject(arpBroadcast(a.tap.mac))
  await until('dropped', () => c.edge.status().drops['foreign-src-mac'] === 2)
  t.equal(c.tap.written.length, 2, 'only the two honest frames reached c')
})

t.test('forwarding disabled: frames for other MACs, other IPs or VLANs never reach the host', async (t) => {
  const sn = await startSupernode(t)
  const device = await startEdge(t, [sn], { overlay: { address: '10.9.0.1', prefix: 24 } })
  const tech = await startEdge(t, [sn], { overlay: { address: '10.9.0.2', prefix: 24 } })
  await Promise.all([registered(device), registered(tech)])
  const d = device.tap.mac
  const m = tech.tap.mac
  const send = (frame: Buffer): void => tech.tap.inject(frame)

  // allowed: to the device's own address, subnet and global broadcast, multicast, ARP, IPv6 link-local/multicast
  const allowed = [
    ipv4Frame(d, m, '10.9.0.2', '10.9.0.1'),
    ipv4Frame(d, m, '10.9.0.2', '10.9.0.255'),
    ipv4Frame(d, m, '10.9.0.2', '255.255.255.255'),
    ipv4Frame(Buffer.from('01005e000001', 'hex'), m, '10.9.0.2', '224.0.0.1'),
    arpBroadcast(m),
    ipv6Frame(d, m, Buffer.from('fe800000000000000000000000000001', 'hex')),
    ipv6Frame(Buffer.from('333300000001', 'hex'), m, Buffer.from('ff020000000000000000000000000001', 'hex')),
  ]
  // refused: a route "via the device" to a LAN behind it, another edge's MAC, IPv6 global, a VLAN tag
  const refused: [Buffer, string][] = [
    [ipv4Frame(d, m, '10.9.0.2', '192.168.1.10'), 'not-our-ip'],
    [ipv4Frame(d, m, '10.9.0.2', '10.9.0.3'), 'not-our-ip'],
    [ipv4Frame(d, m, '10.9.0.2', '8.8.8.8'), 'not-our-ip'],
    [ipv6Frame(d, m, Buffer.from('20010db8000000000000000000000001', 'hex')), 'not-our-ip'],
    [ipv4Frame(mac(0x99), m, '10.9.0.2', '10.9.0.1'), 'not-our-mac'],
    [Buffer.concat([d, m, Buffer.from('8100000a0800', 'hex'), Buffer.alloc(50)]), 'vlan-tagged'],
  ]
  for (const frame of allowed) send(frame)
  for (const [frame] of refused) send(frame)
  await until('all handled', () => device.edge.status().counters.tapFramesOut + Object.values(device.edge.status().drops).reduce((x, y) => x + y, 0) >= allowed.length + refused.length)
  t.equal(device.tap.written.length, allowed.length, 'exactly the frames addressed to the device reached it')
  t.same(
    device.tap.written.map((f) => f.toString('hex')),
    allowed.map((f) => f.toString('hex')),
  )
  t.equal(device.edge.status().drops['not-our-ip'], 4)
  t.equal(device.edge.status().drops['vlan-tagged'], 1)
  // the frame to a ghost MAC is flooded; the device drops it as not its own
  t.equal(device.edge.status().drops['not-our-mac'], 1)
})
