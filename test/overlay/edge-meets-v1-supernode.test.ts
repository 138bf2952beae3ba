// A v2 edge whose supernode is still overlan 0.1 (protocol v1): the supernode ignores v2 HELLOs and
// answers only a v1 HELLO, with a v1 COOKIE. The edge says once, in the line of wire-v2 W1, what to
// upgrade, keeps trying v2 slowly, and neither crashes nor registers half-way. The fake supernode is
// a loopback socket that speaks exactly that much of v1.
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import t from 'tap'
import { SLOW_RETRY_MS } from '../../src/edge/supernode-link.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { OLD_WIRE_VERSION, PacketType, decodeOldProtocolHello, decodePacket, encodeCookie } from '../../src/wire/index.js'
import { startEdge } from '../fixtures/overlay.js'
import { keptLines } from '../fixtures/supernode-start.js'

t.test('a supernode of protocol v1 is named once; v2 HELLOs go on at the slow pace', async (t) => {
  const socket = createSocket('udp4')
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  t.teardown(() => socket.close())
  const seen = { v1: 0, v2: 0 }
  socket.on('message', (msg, from) => {
    const v2 = decodePacket(msg)
    if (v2.ok && v2.value.type === PacketType.Hello) seen.v2++
    const v1 = decodeOldProtocolHello(msg)
    if (v1 === null) return
    seen.v1++
    // overlan 0.1 answers its own HELLO: same layout, version byte 1, the client nonce echoed
    const cookie = encodeCookie(v1.clientNonce, Buffer.alloc(20), { family: 4, address: from.address, port: from.port }, Date.now(), OLD_WIRE_VERSION)
    socket.send(cookie, from.port, from.address)
  })

  const clock = new ManualClock(Date.now())
  const { lines, logger } = keptLines()
  const e = await startEdge(t, [socket.address().port], { clock, logger })
  await clock.advance(4_000)
  const said = () => lines.filter((l) => l === `error supernode 127.0.0.1:${socket.address().port} speaks protocol v1 (overlan 0.1): upgrade it to overlan 0.2 or later`)
  t.equal(said().length, 1, 'the line of wire-v2 W1')
  t.equal(seen.v1, 1, 'after three unanswered HELLOs, one HELLO of v1')
  t.equal(e.edge.status().drops['old-protocol'], 0, 'the answer to the probe is not a drop')

  const v2Before = seen.v2
  await clock.advance(60_000, 250)
  t.equal(said().length, 1, 'said once, not once per HELLO')
  const v2Sent = seen.v2 - v2Before
  t.ok(v2Sent >= 60_000 / SLOW_RETRY_MS - 1 && v2Sent <= 60_000 / SLOW_RETRY_MS + 1, `v2 HELLO goes on every ${SLOW_RETRY_MS} ms (${v2Sent} in 60 s)`)
  t.equal(e.edge.status().supernodes[0]!.registered, false, 'never registered half-way')
})
