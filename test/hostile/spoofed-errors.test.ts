// Spoofed ERRORs cannot unregister an edge: a second process holds the address the edges were
// given as their supernode's (it forwards to the real supernode), and sends the victim every ERROR
// code with every proof an off-path attacker could try (its edge ID, its peer's, keepalive
// sequences 1 to 500, zeros, random bytes). The victim stays registered, keeps its peer and its
// relayed traffic. Then the real supernode restarts: its genuine ERROR still makes the victim
// register again within seconds.
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { bindUdp } from '../../src/net/bind.js'
import { Supernode } from '../../src/supernode/supernode.js'
import { AttackProcess } from '../fixtures/attack-process.js'
import type { SpoofReply, SpoofRequest } from '../fixtures/error-spoofer.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { isRegistered, peerOf, registered, startEdge, startSupernode, until, type TestEdge } from '../fixtures/overlay.js'

const SPOOFER = fileURLToPath(new URL('../fixtures/error-spoofer.ts', import.meta.url))
const SEQUENCES = 500
const SPOOFER_MAX_SECONDS = 60

/** Sends a → b through the relay until one arrives (a frame into a restarted supernode is lost); false after `ms`. */
async function frameArrives(a: TestEdge, b: TestEdge, ms: number): Promise<boolean> {
  const before = b.tap.written.length
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    a.tap.inject(ipv4Frame(b.tap.mac, a.tap.mac, a.edge.overlay!.address, b.edge.overlay!.address))
    try {
      await until('frame delivered', () => b.tap.written.length > before, 200)
      return true
    } catch {
      // not yet: send again, as a user's ping would
    }
  }
  return false
}

t.test('spoofed ERRORs from a second process cannot unregister an edge; the real supernode still can', async (t) => {
  const sn = await startSupernode(t)
  const realPort = sn.port
  const spoofer = AttackProcess.start<SpoofRequest, SpoofReply>(t, SPOOFER, [String(realPort), String(SPOOFER_MAX_SECONDS)])
  const { port: spoofedPort } = await spoofer.next('ready')
  // both edges know the supernode only by the address the spoofer holds
  // the victim's socket is made here, so that the test knows its port (members see it in PEER_INFO)
  const victimSocket = await bindUdp({ address: '127.0.0.1', port: 0 })
  const victim = await startEdge(t, [spoofedPort], { relayOnly: true, transport: victimSocket })
  const peer = await startEdge(t, [spoofedPort], { relayOnly: true })
  await Promise.all([registered(victim), registered(peer)])
  t.ok(await frameArrives(victim, peer, 5000), 'relayed frames flow (the victim holds its peer)')
  const unproven = (): number => victim.edge.status().drops['unproven-error']
  const registrations = sn.counters.registrations
  const victimAt = sn.registry.edges.get(victim.edge.edgeId)!
  let lost = 0
  victim.edge.on('registered', () => lost++)

  const spoofed = await spoofer.ask({ kind: 'spoof', address: '127.0.0.1', port: victimSocket.local().port, edgeId: victim.edge.edgeId, peerId: peer.edge.edgeId, sequences: SEQUENCES })
  // the hint among them (unknown-edge without proof) sends one keepalive, which the real supernode answers
  await until('spoofed ERRORs received', () => unproven() >= (spoofed.sent - 1) * 0.9, 10_000)
  t.comment(`${spoofed.sent} spoofed ERRORs sent, ${unproven()} refused by the victim as unproven-error`)
  t.ok(unproven() >= (spoofed.sent - 1) * 0.9, 'the victim refused them (at most the kernel lost a few)')
  t.ok(isRegistered(victim), 'the victim is still registered')
  t.equal(sn.counters.registrations, registrations, 'and never registered again: no ERROR made it drop its registration')
  t.equal(lost, 0, 'no new registration event')
  t.equal(sn.registry.edges.get(victim.edge.edgeId), victimAt, "the supernode's entry is the same")
  t.ok(peerOf(victim, peer) !== undefined, 'the victim still holds its peer (no spoofed unknown-peer made it forget)')
  t.ok(await frameArrives(victim, peer, 5000), 'relayed frames still flow')

  // the real supernode restarts on its port: it knows nobody, and its ERRORs are genuine
  await sn.stop()
  const restarted = await Supernode.start({ port: realPort, bindAddress: '127.0.0.1', mgmt: null })
  t.teardown(() => restarted.stop())
  // the victim relays a frame: the new supernode answers with a hint, the victim's keepalive with a
  // genuine unknown-edge (its sequence as the proof), and the victim registers again
  const started = Date.now()
  const back = async (): Promise<boolean> => {
    while (Date.now() - started < 10_000) {
      if (restarted.registry.edges.has(victim.edge.edgeId)) return true
      victim.tap.inject(ipv4Frame(peer.tap.mac, victim.tap.mac, victim.edge.overlay!.address, peer.edge.overlay!.address))
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return false
  }
  t.ok(await back(), 'the victim registered again with the restarted supernode: its genuine ERROR worked')
  t.comment(`the victim was back ${Date.now() - started} ms after the restart (frame, hint, keepalive, unknown-edge, registration)`)
  t.ok(await frameArrives(victim, peer, 15_000), 'relayed frames flow again once the peer is back too (its next keepalive)')
  t.equal(await spoofer.end(), 0, 'the spoofer ended cleanly')
})
