// The security properties of the data path: nobody outside the pair's session gets a frame in, a
// member cannot pose as another member's MAC, and an edge delivers only frames addressed to itself
// (forwarding disabled). (Registering with a certificate of another authority is the supernode's
// to refuse: test/overlay/supernode-live-holder-kept.test.ts and the supernode's unit tests.)
import { createSocket } from 'node:dgram'
import t from 'tap'
import { SESSION_HEADER_BYTES, SessionKind, writeSessionDataHeader } from '../../src/wire/index.js'
import { arpBroadcast, ipv4Frame, ipv6Frame, mac } from '../fixtures/frames.js'
import { directEndpointOf, pathOf, registered, startEdge, startSupernode, until } from '../fixtures/overlay.js'

t.test('packets sealed by no session of the receiver inject nothing and create no state', async (t) => {
  const sn = await startSupernode(t)
  const a = await startEdge(t, [sn])
  const b = await startEdge(t, [sn])
  await Promise.all([registered(a), registered(b)])
  a.tap.inject(ipv4Frame(b.tap.mac, a.tap.mac, a.edge.overlay!.address, b.edge.overlay!.address))
  await until('direct', () => pathOf(a, b) === 'direct')

  const socket = createSocket('udp4')
  t.teardown(() => socket.close())
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  // session data under indices b never gave out (as a stranger, or a member of another community, would send)
  const packet = Buffer.alloc(SESSION_HEADER_BYTES + 98 + 16, 0x42)
  const bDirect = directEndpointOf(a, b)!
  const before = b.tap.written.length
  const peersBefore = b.edge.status().peers.length
  for (let i = 1; i <= 5; i++) {
    writeSessionDataHeader(packet, 0x1000 + i, i, SessionKind.Frame)
    socket.send(packet, bDirect.port, bDirect.address)
  }
  await until('b counted them', () => b.edge.status().drops['unknown-index'] === 5)
  t.equal(b.tap.written.length, before, 'nothing reached b’s host')
  t.equal(b.edge.status().peers.length, peersBefore, 'and no peer state was created')
  t.equal(b.edge.status().drops['handshake-decrypt-failed'] ?? 0, 0)
})

t.test('a frame from b claiming a’s MAC is dropped', async (t) => {
  const sn = await startSupernode(t)
  const a = await startEdge(t, [sn])
  const b = await startEdge(t, [sn])
  const c = await startEdge(t, [sn])
  await Promise.all([registered(a), registered(b), registered(c)])
  // c learns a and b first (an honest frame from each)
  a.tap.inject(ipv4Frame(c.tap.mac, a.tap.mac, a.edge.overlay!.address, c.edge.overlay!.address))
  b.tap.inject(ipv4Frame(c.tap.mac, b.tap.mac, b.edge.overlay!.address, c.edge.overlay!.address))
  await c.tap.waitForWritten(2)
  // b now sends with a's MAC as its source, as unicast and as broadcast
  b.tap.inject(ipv4Frame(c.tap.mac, a.tap.mac, a.edge.overlay!.address, c.edge.overlay!.address))
  b.tap.inject(arpBroadcast(a.tap.mac, a.edge.overlay!.address))
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
    arpBroadcast(m, '10.9.0.2'),
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
  // the first frames wait for the pair's session (and the flooded one for the tech's broadcast key)
  const handled = (): number => {
    const drops = device.edge.status().drops
    return device.tap.written.length + (drops['not-our-ip'] ?? 0) + (drops['vlan-tagged'] ?? 0) + (drops['not-our-mac'] ?? 0)
  }
  await until('all handled', () => handled() >= allowed.length + refused.length)
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
