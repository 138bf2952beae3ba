// A peer that comes back under a new edge ID with the same MAC (a restarted device) is found
// again: the supernode answers frames for the old ID with unknown-peer, and the edge forgets it.
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { ipv4Frame } from '../fixtures/frames.js'
import { registered, startEdge, startSupernode, until } from '../fixtures/overlay.js'

t.test('frames reach a restarted device (new edge ID, same MAC and address)', async (t) => {
  const sn = await startSupernode(t)
  const tech = await startEdge(t, [sn], { relayOnly: true, overlay: { address: '10.9.0.2', prefix: 24 } })
  const first = await startEdge(t, [sn], { relayOnly: true, macByte: 0xde, overlay: { address: '10.9.0.1', prefix: 24 } })
  await Promise.all([registered(tech), registered(first)])
  const toDevice = (): Buffer => ipv4Frame(first.tap.mac, tech.tap.mac, '10.9.0.2', '10.9.0.1')
  tech.tap.inject(toDevice())
  await first.tap.waitForWritten(1)
  await until('the technician knows the device', () => tech.edge.peers.get(first.edge.edgeId)?.verified === true)

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
  t.equal(tech.edge.peers.get(first.edge.edgeId), undefined, 'the old peer is forgotten')
})
