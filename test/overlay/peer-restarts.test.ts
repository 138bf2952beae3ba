// A peer that comes back under a new edge ID with the same MAC (a restarted device) is found
// again: the supernode answers frames for the old ID with unknown-peer, and the edge forgets it.
// One killed (it never deregistered) and started again gets its address back: at once with the same
// identity key, after the holder has been silent 25 s with a new one.
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { generateIdentity, identityFromSeed, seedOf, type Identity } from '../../src/crypto/identity.js'
import { CONFLICT_RETRY_MS } from '../../src/edge/supernode-link.js'
import { ETHERTYPE_ARP } from '../../src/wire/index.js'
import { DEFAULT_SUPERNODE_CONFIG, holderSilentMs } from '../../src/supernode/supernode.js'
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

// v1 handed the address over sooner to a newcomer from the holder's public address; v2 dropped that on
// purpose (an address proves nothing) and keys the rule on the member key: the same key is the same
// holder (a restart with a persisted --identity) and replaces it at once; another key waits until the
// holder has been silent holderSilentMs (a keepalive interval and 5 s: 25 s by default).
t.test('a device killed and restarted: with a fresh identity its address is handed over once the holder has been silent 25 s, with its persisted identity at once', async (t) => {
  const clock = new ManualClock()
  const sn = await startSupernode(t, {}, clock)
  const silentMs = holderSilentMs(DEFAULT_SUPERNODE_CONFIG.keepaliveSeconds)
  t.equal(silentMs, 25_000, 'the default: a 20 s keepalive interval and 5 s')
  const overlay = { address: '10.9.0.1', prefix: 24 }

  /** Kills an edge holding 10.9.0.1 and starts `restart` at once; resolves with the ms from the kill to its registration. */
  async function takeOver(macByte: number, restart: { macByte: number; identity?: Identity }, killedIdentity?: Identity): Promise<number> {
    const killed = await startEdge(t, [sn], { clock, nat: 'cone', macByte, overlay, identity: killedIdentity })
    await registered(killed)
    killed.nat!.block = () => true // SIGKILL: no goodbye, nothing more from it
    const killedAt = clock.now()
    const restarted = await startEdge(t, [sn], { clock, overlay, ...restart })
    while (!isRegistered(restarted) && clock.now() - killedAt < 2 * silentMs) await clock.advance(100)
    t.ok(isRegistered(restarted), 'registered')
    await restarted.edge.stop() // leaves 10.9.0.1 free for the next case
    return clock.now() - killedAt
  }

  const refusedBefore = sn.drops['address-in-use']
  const fresh = await takeOver(0x10, { macByte: 0x11 })
  t.comment(`fresh identity: registered ${fresh} ms after the holder went silent`)
  t.ok(fresh >= silentMs && fresh <= silentMs + CONFLICT_RETRY_MS + 1000, `only once the holder has been silent ${silentMs} ms (asking every ${CONFLICT_RETRY_MS} ms)`)
  t.ok(sn.drops['address-in-use'] > refusedBefore, 'refused (address-in-use) until then')

  // the same key in two copies: each edge destroys the identity it was given when it stops
  const persisted = generateIdentity()
  const seed = seedOf(persisted)
  const refusedBeforeSame = sn.drops['address-in-use']
  const same = await takeOver(0x20, { macByte: 0x20, identity: identityFromSeed(seed) }, persisted)
  seed.fill(0)
  t.comment(`persisted identity: registered ${same} ms after the old instance went silent`)
  t.ok(same < CONFLICT_RETRY_MS, `at once (${same} ms of the test clock, less than one conflict retry: ${CONFLICT_RETRY_MS} ms)`)
  t.equal(sn.drops['address-in-use'], refusedBeforeSame, 'never refused')
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
