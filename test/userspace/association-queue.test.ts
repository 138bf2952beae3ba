// How the edge drives werift-sctp (src/edge/streams/association.ts): werift's outbound queue stays
// short and keeps running empty, so the send() calls waiting on its flush event stay few. When the
// queue never emptied (a 1 MB high-water mark), the waiters piled up into the hundreds and every
// flush walked them all: the transfer went CPU bound (OPERATIONS.md, userspace mode).
import t from 'tap'
import { silentLogger } from '../../src/log/logger.js'
import { PeerAssociation } from '../../src/edge/streams/association.js'

/** werift's internals this test watches (not part of its typed API) */
interface WeriftView {
  outboundQueue: unknown[]
  flush: { event: { stack: unknown[] }; subscribe(f: () => void): unknown }
}

const MESSAGE = 16 * 1024
const TOTAL = 8 * 1024 * 1024

t.test('8 MB through two associations: werift never holds more than 128 chunks and one message, and its flush waiters stay under 20', async (t) => {
  let client: PeerAssociation | null = null
  let server: PeerAssociation | null = null
  // packets cross on the next turn of the event loop, as through a socket
  const toServer = (p: Buffer): void => void setImmediate(() => server?.receive(Buffer.from(p)))
  const toClient = (p: Buffer): void => void setImmediate(() => client?.receive(Buffer.from(p)))
  let sent = 0
  let received = 0
  let mostQueued = 0
  let mostWaiters = 0
  const pump = (): void => {
    while (sent < TOTAL && client !== null && !client.congested) {
      client.send(1, Buffer.alloc(MESSAGE, sent & 0xff))
      sent += MESSAGE
    }
  }
  const done = new Promise<void>((resolve) => {
    client = new PeerAssociation('client', toServer, { message() {}, flushed: pump, connected: pump, closed() {}, refused() {} }, silentLogger)
    server = new PeerAssociation(
      'server',
      toClient,
      {
        message(_id, data) {
          received += data.length
          if (received >= TOTAL) resolve()
        },
        flushed() {},
        connected() {},
        closed() {},
        refused() {},
      },
      silentLogger,
    )
  })
  const werift = (client! as unknown as { sctp: WeriftView }).sctp
  werift.flush.subscribe(() => {
    mostQueued = Math.max(mostQueued, werift.outboundQueue.length)
    mostWaiters = Math.max(mostWaiters, werift.flush.event.stack.length)
  })
  t.teardown(() => {
    client?.close()
    server?.close()
  })
  server!.start()
  client!.start()
  await done
  t.equal(received, TOTAL, 'every byte arrived')
  t.ok(mostQueued <= 128 + Math.ceil(MESSAGE / 1200), `werift's queue stayed short (at most ${mostQueued} chunks)`)
  t.ok(mostWaiters < 20, `flush waiters stayed few (at most ${mostWaiters}, our two subscriptions included)`)
})
