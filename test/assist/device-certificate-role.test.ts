// The assistance device's edge issues itself a certificate of role `device` (not `member`, what
// every technician's shared-secret edge states), so a technician's edge, the supernode and the
// audit see which member is the device; it keeps that role when it re-issues with its address.
import t from 'tap'
import { decodeJoinToken } from '../../src/assist/join-token.js'
import { Edge } from '../../src/edge/edge.js'
import { MemoryTap } from '../../src/tap/memory-tap.js'
import { poll, startTestAssist } from '../fixtures/assist.js'
import { ipv4Frame, mac } from '../fixtures/frames.js'

/** Polls (100 ms apart) this many times at most: ~20 s on a busy machine. */
const TRIES = 200

t.test("the device's certificate states role device; a technician's, member", async (t) => {
  const a = await startTestAssist(t)
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600 })
  t.equal(on.status, 200, 'assistance on')
  const token = decodeJoinToken(on.json.token as string)
  const tap = new MemoryTap('tech0', mac(0x7d))
  const tech = await Edge.start({ community: token.community, key: token.key, supernodes: token.supernodes, overlay: { address: '10.99.0.7', prefix: 24 }, name: 'anna', bind: { address: '127.0.0.1', port: 0 }, mgmt: null }, { tap })
  t.teardown(() => tech.stop())
  t.equal(tech.status().certificate.role, 'member', "the technician's own certificate")
  const device = a.taps[0]!
  tap.inject(ipv4Frame(device.mac, tap.mac, '10.99.0.7', '10.99.0.1'))
  const peers = await poll(() => Promise.resolve(tech.status().peers), (p) => p.some((peer) => peer.session.state === 'ready'), TRIES)
  const seen = peers.find((p) => p.session.state === 'ready')!
  t.equal(seen.name, 'device')
  t.equal(seen.role, 'device', 'the technician sees the device by its certificate: role device')
  t.equal(seen.ip, '10.99.0.1', 'with the address the service gave it')
})
