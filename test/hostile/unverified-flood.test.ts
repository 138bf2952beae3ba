// A member floods the device with frames under edge IDs it makes up (sealed with the community key,
// as any member can): each ID is a peer the device has no record of, whose frames it holds while it
// asks for the record. Bounded by count and time: the held frames never pass PENDING_BYTES_TOTAL
// (nor PENDING_BYTES_PER_PEER for one ID), a full table makes room from the made-up peers, the
// device's record queries stay within their budget, and an honest technician who joins during the
// flood is verified and heard. Time is the injected clock's: it stands still while the table fills.
import { createSocket } from 'node:dgram'
import t from 'tap'
import { PENDING_BYTES_PER_PEER, PENDING_BYTES_TOTAL, PENDING_FRAME_OVERHEAD_BYTES, PENDING_TIMEOUT_MS, MAX_PEERS } from '../../src/edge/peers.js'
import { RECORD_QUERIES_PER_SECOND } from '../../src/edge/peer-directory.js'
import { TICK_MS } from '../../src/edge/edge.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { PacketType, PROBE_PAYLOAD_BYTES, formatMac, writeProbePayload } from '../../src/wire/index.js'
import { ipv4Frame, mac } from '../fixtures/frames.js'
import { isRegistered, keysFor, peerOf, startEdge, startSupernode, until } from '../fixtures/overlay.js'
import { sealedDatagram } from '../fixtures/raw-member.js'
import { RecordingTransport } from '../fixtures/recording-transport.js'

const FLOODER_ADDRESS = '127.0.0.3'
/** The largest frame a datagram holds (2,048 - 44). */
const FRAME_BYTES = 2_004
/** Frames one made-up ID sends: more than a peer may hold. */
const ONE_PEER_FRAMES = 40
/** Made-up IDs that fill the table, one frame each: more than it holds. */
const FILL_IDS = 5_000
/** While the technician joins: new made-up IDs per 50 ms of the clock, enough to fill the table within PENDING_TIMEOUT_MS. */
const IDS_PER_STEP = 80
const MAX_JOIN_STEPS = 100
/** Datagrams sent before the test waits for the device to have read them (its socket queue is finite). */
const BATCH = 16
const FIRST_ID = 0x10_0000
const HONEST_FILL = 0x68

t.test('frames under made-up edge IDs: held bytes stay bounded, the table makes room, an honest technician still joins', async (t) => {
  const clock = new ManualClock(Date.now())
  const sn = await startSupernode(t, {}, clock)
  const socket = await RecordingTransport.open()
  const victim = await startEdge(t, [sn], { clock, transport: socket, overlay: { address: '10.9.0.1', prefix: 24 } })
  for (let i = 0; i < 100 && !isRegistered(victim); i++) await clock.advance(50)
  t.ok(isRegistered(victim), 'the device is registered')

  const keys = await keysFor()
  const flooder = createSocket('udp4')
  t.teardown(() => flooder.close())
  await new Promise<void>((resolve) => flooder.bind(0, FLOODER_ADDRESS, resolve))
  const frame = ipv4Frame(victim.tap.mac, mac(0x50), '10.9.0.50', '10.9.0.1', FRAME_BYTES)
  let sent = 0
  let nextId = FIRST_ID
  const read = (): number => socket.receivedFrom(FLOODER_ADDRESS)
  /** Sends `count` datagrams of `type` from each of `ids`, pausing every BATCH until the device has read what was sent. */
  const flood = async (ids: number[], count: number, type: typeof PacketType.Data | typeof PacketType.Probe = PacketType.Data): Promise<void> => {
    const payload = type === PacketType.Data ? frame : writeProbePayload(Buffer.alloc(PROBE_PAYLOAD_BYTES), clock.now())
    for (const id of ids) {
      for (let counter = 1; counter <= count; counter++) {
        flooder.send(sealedDatagram(keys.dataKey, type, id, victim.edge.edgeId, counter, payload), socket.local().port, '127.0.0.1')
        if (++sent % BATCH === 0) await until('the device reads the flood', () => read() >= sent)
      }
    }
    await until('the device reads the flood', () => read() >= sent)
  }
  const madeUp = (n: number): number[] => Array.from({ length: n }, () => nextId++)
  const status = (): ReturnType<typeof victim.edge.status> => victim.edge.status()

  const queriesBefore = status().counters.peerQueries
  // 0. a probe from each of 20 made-up IDs spends this second's record queries (the clock stands
  // still): the supernode's "unknown peer" answer would remove the next one at a moment of its own
  await flood(madeUp(RECORD_QUERIES_PER_SECOND), 1, PacketType.Probe)
  await until('record queries spent', () => status().counters.peerQueries - queriesBefore >= RECORD_QUERIES_PER_SECOND)

  // 1. one made-up ID, more frames than a peer may hold
  await flood(madeUp(1), ONE_PEER_FRAMES)
  const perFrame = FRAME_BYTES + PENDING_FRAME_OVERHEAD_BYTES
  const onePeer = status()
  t.equal(onePeer.counters.pendingBytes, Math.floor(PENDING_BYTES_PER_PEER / perFrame) * perFrame, `one peer holds what fits in ${PENDING_BYTES_PER_PEER} bytes: ${onePeer.counters.pendingBytes}`)
  t.equal(onePeer.drops['unverified-peer'], ONE_PEER_FRAMES - Math.floor(PENDING_BYTES_PER_PEER / perFrame), 'the rest dropped as unverified-peer')

  // 2. the table filled past its size while the clock stands still
  let maxPending = 0
  for (let i = 0; i < FILL_IDS; i += 500) {
    await flood(madeUp(500), 1)
    maxPending = Math.max(maxPending, status().counters.pendingBytes)
  }
  const filled = status()
  const queries = filled.counters.peerQueries - queriesBefore
  t.comment(`flood: ${RECORD_QUERIES_PER_SECOND + 1 + FILL_IDS} made-up IDs, ${sent} datagrams of ${FRAME_BYTES + 44} bytes; the device read ${read()}`)
  t.comment(`held: ${filled.counters.pendingBytes} bytes (at most ${maxPending} seen; bound ${PENDING_BYTES_TOTAL}; before: 16 × ${MAX_PEERS} × ${FRAME_BYTES} = ${16 * MAX_PEERS * FRAME_BYTES}); peers ${filled.peers.length}; evicted ${filled.counters.peersEvicted}; drops ${JSON.stringify({ 'unverified-peer': filled.drops['unverified-peer'], 'pending-full': filled.drops['pending-full'], 'peer-table-full': filled.drops['peer-table-full'] })}; record queries ${queries}`)
  t.ok(maxPending <= PENDING_BYTES_TOTAL, `held frames never passed ${PENDING_BYTES_TOTAL} bytes (${maxPending})`)
  t.ok(filled.counters.pendingBytes > PENDING_BYTES_TOTAL - perFrame, 'and the flood did fill them (the bound is what stopped it)')
  t.ok(filled.drops['pending-full'] > 0, 'frames beyond it dropped as pending-full')
  t.equal(filled.peers.length, MAX_PEERS, `the table is full at ${MAX_PEERS}`)
  // the supernode answers each record query for a made-up ID with "unknown peer", which removes it:
  // every other made-up ID beyond the table's size made room by evicting one
  const beyond = RECORD_QUERIES_PER_SECOND + 1 + FILL_IDS - MAX_PEERS
  t.ok(filled.counters.peersEvicted >= beyond - queries && filled.counters.peersEvicted <= beyond, `made-up IDs beyond the size evicted unverified ones (${filled.counters.peersEvicted}; ${beyond} beyond, ${queries} asked for)`)
  t.equal(filled.drops['peer-table-full'], 0, 'no sender was turned away')
  t.ok(queries <= RECORD_QUERIES_PER_SECOND, `record queries within one second's budget (${queries} for ${RECORD_QUERIES_PER_SECOND + 1 + FILL_IDS} made-up IDs)`)

  // 3. an honest technician joins while the flood goes on and the clock moves
  const tech = await startEdge(t, [sn], { clock, overlay: { address: '10.9.0.2', prefix: 24 }, name: 'technician' })
  const techFrame = ipv4Frame(victim.tap.mac, tech.tap.mac, '10.9.0.2', '10.9.0.1', 120, HONEST_FILL)
  const heard = (): boolean => victim.tap.written.some((f) => f[40] === HONEST_FILL)
  const evictedBefore = filled.counters.peersEvicted
  const joinStart = clock.now()
  let steps = 0
  let fullSeen = 0
  for (; steps < MAX_JOIN_STEPS && !heard(); steps++) {
    await flood(madeUp(IDS_PER_STEP), 1)
    if (isRegistered(tech)) tech.tap.inject(techFrame)
    await clock.advance(50)
    if (steps % 10 === 0) fullSeen = Math.max(fullSeen, status().peers.length)
  }
  const joined = status()
  const techView = peerOf(victim, tech)
  const queriesPerSecondBudget = RECORD_QUERIES_PER_SECOND * (Math.ceil((clock.now() - joinStart) / 1000) + 1)
  t.comment(`technician: verified and heard after ${steps} steps (${clock.now() - joinStart} ms of clock) while ${steps * IDS_PER_STEP} more made-up IDs arrived; the table held up to ${fullSeen} peers, ${joined.counters.peersEvicted - evictedBefore} evicted meanwhile, held ${joined.counters.pendingBytes} bytes`)
  t.equal(techView?.mac, formatMac(tech.tap.mac), "the device verified the technician's record during the flood")
  t.equal(techView?.name, 'technician')
  t.ok(heard(), "the technician's frames reach the device's host")
  t.ok(joined.counters.peersEvicted > evictedBefore, 'the flood kept evicting made-up peers meanwhile')
  t.ok(joined.counters.pendingBytes <= PENDING_BYTES_TOTAL, 'held frames still within the bound')
  t.ok(joined.counters.peerQueries - queriesBefore <= RECORD_QUERIES_PER_SECOND + queriesPerSecondBudget, 'record queries within their budget throughout')
  t.ok(isRegistered(victim), 'the device stayed registered (its keepalives were never rate-limited away)')

  // 4. the flood stops: what never got a record goes within PENDING_TIMEOUT_MS
  await clock.advance(PENDING_TIMEOUT_MS + 2 * TICK_MS)
  const after = status()
  t.same(after.peers.map((p) => p.name), ['technician'], 'every made-up peer is gone; the technician stays')
  t.equal(after.counters.pendingBytes, 0, 'nothing held any more')
})
