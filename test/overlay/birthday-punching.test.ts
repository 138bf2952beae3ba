// Cone NAT on one side, symmetric NAT on the other: the ordinary probes never meet, and birthday
// punching (256 sockets opened on one side, a spray of random ports from the other) finds a
// direct path; frames then bypass the supernode. In-process NATs; time moves by an injected clock.
import t from 'tap'
import { BIRTHDAY_SOCKETS } from '../../src/edge/birthday.js'
import { SimulatedNat } from '../../src/net/simulated-nat.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { ipv4Frame } from '../fixtures/frames.js'
import { EXTRA_PRIVATE_PORTS_FROM, directEndpointOf, pathOf, registered, startEdge, startSupernode } from '../fixtures/overlay.js'

// above Linux's ephemeral range, so the spray touches no other program's sockets; random per run
// so that two test files running at once do not share it
const WINDOW_SIZE = 1500
const base = 61000 + Math.floor(Math.random() * 3) * WINDOW_SIZE
const window = { from: base, to: base + WINDOW_SIZE - 1 }

t.test('cone / symmetric: direct after birthday punching', async (t) => {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, {}, clock)
  // a port-preserving cone NAT (as Linux MASQUERADE) and a symmetric one with random ports
  const coneNat = new SimulatedNat('cone', '127.0.0.1', window, true)
  const symmetricNat = new SimulatedNat('symmetric', '127.0.0.1', window)
  const conePrivatePort = window.from + 7
  // each announces its LAN address, as real edges do: its port tells the other side whether the NAT rewrote it
  // (the simulated NATs drop the probes to those private addresses: nothing leaves loopback)
  const a = await startEdge(t, [sn], { clock, nat: coneNat, transport: coneNat.attach('10.0.1.2', conePrivatePort), birthdayPorts: window, localAddresses: ['10.0.1.2'] })
  const b = await startEdge(t, [sn], { clock, nat: symmetricNat, birthdayPorts: window, localAddresses: ['10.0.2.2'] })
  await Promise.all([registered(a), registered(b)])

  a.tap.inject(ipv4Frame(b.tap.mac, a.tap.mac, a.edge.overlay!.address, b.edge.overlay!.address))
  await b.tap.waitForWritten(1)
  // ordinary punching: ~6.3 s of rounds, which cannot succeed through the symmetric NAT
  const start = clock.now()
  while (clock.now() - start < 30_000 && !(pathOf(a, b) === 'direct' && pathOf(b, a) === 'direct')) await clock.advance(100, 50)
  const took = clock.now() - start
  t.equal(pathOf(a, b), 'direct', `a → b direct after ${took} ms (simulated)`)
  t.equal(pathOf(b, a), 'direct', 'b → a direct')
  t.ok(a.edge.status().counters.birthdaySessions >= 1 && b.edge.status().counters.birthdaySessions >= 1, 'both sides tried the birthday way')
  t.equal(a.edge.status().supernodes[0]!.publicEndpoint, `127.0.0.1:${conePrivatePort}`, 'the cone NAT kept the port')
  t.equal(a.edge.birthdayTotals().socketsOpened, 0, 'the side whose NAT keeps ports only sprays')
  t.ok(a.edge.birthdayTotals().probesSprayed > 0, `(${a.edge.birthdayTotals().probesSprayed} probes)`)
  t.equal(b.edge.birthdayTotals().probesSprayed, 0, 'the side behind the symmetric NAT never sprays (it would poison the other NAT)')
  t.equal(b.edge.birthdayTotals().socketsOpened, BIRTHDAY_SOCKETS, 'it opens the sockets')
  t.ok(symmetricNat.mappingsCreated >= BIRTHDAY_SOCKETS, `the symmetric NAT opened a port for every birthday socket (${symmetricNat.mappingsCreated})`)
  // a reaches b at a public port of the symmetric NAT: the socket behind it is one of b's birthday sockets
  const behind = symmetricNat.privatePortBehind(directEndpointOf(a, b)!.port)
  t.ok(behind !== null && behind >= EXTRA_PRIVATE_PORTS_FROM, `the symmetric side talks through one of its birthday sockets (private port ${behind})`)
  // the sockets the peer reached stay open (it may send to any of their ports); the rest close
  const bSockets = b.edge.status().counters.birthdaySockets
  t.ok(bSockets >= 1 && bSockets < 16, `and keeps only the few the peer reached (${bSockets} of ${BIRTHDAY_SOCKETS})`)
  t.ok(a.edge.status().counters.birthdaySockets < 16, `the cone side too (${a.edge.status().counters.birthdaySockets})`)

  const relayed = sn.counters.relayedFrames
  for (let i = 0; i < 5; i++) {
    a.tap.inject(ipv4Frame(b.tap.mac, a.tap.mac, a.edge.overlay!.address, b.edge.overlay!.address, 200 + i))
    b.tap.inject(ipv4Frame(a.tap.mac, b.tap.mac, b.edge.overlay!.address, a.edge.overlay!.address, 200 + i))
  }
  await b.tap.waitForWritten(6)
  await a.tap.waitForWritten(5)
  t.equal(sn.counters.relayedFrames, relayed, 'frames no longer touch the supernode')
  t.comment(`birthday: the symmetric NAT made ${symmetricNat.mappingsCreated} mappings; direct after ${took} ms`)
})
