// A peer that comes back under a new edge ID with the same MAC (a restarted device) is found
// again: the supernode answers frames for the old ID with unknown-peer, and the edge forgets it.
// One that comes back with a new MAC (killed: it never deregistered) gets its address back soon.
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { CONFLICT_RETRY_MS } from '../../src/edge/supernode-link.js'
import { ETHERTYPE_ARP } from '../../src/wire/index.js'
import { SimulatedNat } from '../../src/net/simulated-nat.js'
import { DEFAULT_SUPERNODE_CONFIG } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { isRegistered, peerOf, registered, startEdge, startSupernode, until } from '../fixtures/overlay.js'

t.test('frames reach a restarted device (new edge ID, same MAC and address)', async (t) => {
  const sn = await startSupernode(t)
  const tech = await startEdge(t, [sn], { relayOnly: true, overlay: { address: '10.9.0.2', prefix: 24 } })
  const first = await startEdge(t, [sn], { relayOnly: true, macByte: 0xde, overlay: { address: '10.9.0.1', prefix: 24 } })
  await Promise.all([registered(tech), registered(first)])
  const toDevice = (): Buffer => ipv4Frame(first.tap.mac, tech.tap.mac, '10.9.0.2', '10.9.0.1')
  tech.tap.inject(toDevice())
  await first.tap.waitForWritten(1)
  await until('the technician knows the device', () => peerOf(tech, first)?.mac != null)

  await first.edge.stop()
  const second = await startEdge(t, [sn], { relayOnly: true, macByte: 0xde, overlay: { address: '10.9.0.1', prefix: 24 } })
  await registered(second)
  t.not(second.edge.edgeId, first.edge.edgeId, 'a new edge ID')
  // the technician keeps sending, as a user's traffic would: a frame every 20 ms, for 1 s at most
  for (let i = 0; i < 50 && second.tap.written.length === 0; i++) {
    tech.tap.inject(toDevice())
    await delay(20)
  }
  t.ok(second.tap.written.length > 0, 'frames reach the restarted device')
  t.ok(sn.drops['relay-unknown-dest'] >= 1, 'the first went to the old ID and was refused')
  t.equal(peerOf(tech, first), undefined, 'the old peer is forgotten')
})

t.test('a device killed and restarted with a new MAC: its address is handed over after half a keepalive interval from the same public address, a whole one from elsewhere', async (t) => {
  const clock = new ManualClock()
  const sn = await startSupernode(t, {}, clock)
  const keepaliveMs = DEFAULT_SUPERNODE_CONFIG.keepaliveSeconds * 1000
  const overlay = { address: '10.9.0.1', prefix: 24 }

  /** Starts an edge that asks for 10.9.0.1 while the old holder is silent; resolves with the ms from the kill to its registration. */
  async function takeOver(nat: SimulatedNat | undefined, macByte: number): Promise<number> {
    const killed = await startEdge(t, [sn], { clock, nat: 'cone', macByte, overlay })
    await registered(killed)
    killed.nat!.block = () => true // SIGKILL: no goodbye, nothing more from it
    const killedAt = clock.now()
    const restarted = await startEdge(t, [sn], { clock, nat, macByte: macByte + 1, overlay })
    while (!isRegistered(restarted) && clock.now() - killedAt < 2 * keepaliveMs) await clock.advance(100)
    t.ok(isRegistered(restarted), 'registered')
    await restarted.edge.stop() // leaves 10.9.0.1 free for the next case
    return clock.now() - killedAt
  }

  const refusedBefore = sn.drops['address-in-use']
  const sameAddress = await takeOver(undefined, 0x10)
  t.comment(`from the same public address: registered ${sameAddress} ms after the holder went silent`)
  t.ok(sameAddress >= keepaliveMs / 2 && sameAddress <= keepaliveMs / 2 + CONFLICT_RETRY_MS + 1000, `after half an interval (${keepaliveMs / 2} ms), asking every ${CONFLICT_RETRY_MS} ms`)
  t.ok(sn.drops['address-in-use'] > refusedBefore, 'refused (address-in-use) until then')

  const elsewhere = await takeOver(new SimulatedNat('cone', '127.0.0.2'), 0x20)
  t.comment(`from another public address: registered ${elsewhere} ms after the holder went silent`)
  t.ok(elsewhere >= keepaliveMs + 5000 && elsewhere <= keepaliveMs + 5000 + CONFLICT_RETRY_MS + 1000, 'only after a whole interval and 5 s: it may be another device misconfigured with the same address')
})

t.test('a restarted device announces its address (gratuitous ARP) once registered: peers learn its new MAC at once', async (t) => {
  const sn = await startSupernode(t)
  const tech = await startEdge(t, [sn], { relayOnly: true, overlay: { address: '10.9.0.2', prefix: 24 } })
  await registered(tech)
  const device = await startEdge(t, [sn], { relayOnly: true, macByte: 0x42, overlay: { address: '10.9.0.1', prefix: 24 }, announce: true })
  await registered(device)
  await tech.tap.waitForWritten(1)
  const arp = tech.tap.written.find((f) => f.readUInt16BE(12) === ETHERTYPE_ARP)
  t.ok(arp, 'the technician host received an ARP frame from the device')
  t.same(arp?.subarray(0, 6), Buffer.alloc(6, 0xff), 'to broadcast')
  t.same(arp?.subarray(22, 28), device.tap.mac, "the sender's MAC is the device's new one")
  t.equal(arp && ipv4At(arp, 28), '10.9.0.1', 'for its overlay address')
  t.equal(arp && ipv4At(arp, 38), '10.9.0.1', 'sender and target address alike (gratuitous)')
  t.equal(arp?.readUInt16BE(20), 1, 'a request, which Linux takes to update an existing neighbour entry')
})

function ipv4At(frame: Buffer, offset: number): string {
  return [...frame.subarray(offset, offset + 4)].join('.')
}
