// Every ERROR the supernode sends is rate-limited per source (address and port), whatever the
// refusal: a burst of bad packets from one source (bad cookies, keepalives and relayed frames
// from an unknown edge, and the rate-limited excess) gets ERROR_BURST answers at first, then at
// most ERRORS_PER_SECOND a second, on an injected clock; another source has a budget of its own.
import t from 'tap'
import type { DatagramReceiver, Transport } from '../../src/net/transport.js'
import { ERROR_BURST, ERRORS_PER_SECOND, Supernode } from '../../src/supernode/supernode.js'
import { ManualClock } from '../../src/time/manual-clock.js'
import { PacketType, decodePacket, encodeKeepalive, encodeRegister } from '../../src/wire/index.js'
import { cookie, nonce, relaySample, sampleAnnouncement } from '../fixtures/sample-packets.js'

/** A supernode socket in memory: datagrams are handed in by the test, sends are recorded. */
class RecordingTransport implements Transport {
  receiver: DatagramReceiver = () => {}
  readonly sent: { packet: Buffer; address: string; port: number }[] = []
  send(buf: Buffer, offset: number, length: number, port: number, address: string): void {
    this.sent.push({ packet: Buffer.from(buf.subarray(offset, offset + length)), address, port })
  }
  sendWithTtl(buf: Buffer, offset: number, length: number, port: number, address: string): void {
    this.send(buf, offset, length, port, address)
  }
  onDatagram(receiver: DatagramReceiver): void {
    this.receiver = receiver
  }
  local(): { address: string; port: number } {
    return { address: '127.0.0.1', port: 7654 }
  }
  pendingSends(): number {
    return 0
  }
  flush(): Promise<void> {
    return Promise.resolve()
  }
  close(): Promise<void> {
    return Promise.resolve()
  }
}

const BURST = 1_000
const SECONDS = 5

t.test('bad packets from one source, 1,000 a second: a few ERRORs at first, then at most one a second', async (t) => {
  const clock = new ManualClock(Date.now())
  const transport = new RecordingTransport()
  const sn = await Supernode.start({ port: 0, mgmt: null }, { clock, transport })
  t.teardown(() => sn.stop())
  const badCookie = encodeRegister(nonce, cookie, sampleAnnouncement())
  const unknownKeepalive = encodeKeepalive(PacketType.Keepalive, 0x1234, 1)
  const strangerRelay = relaySample(0x0fed_cba9_8765)
  const kinds = [badCookie, unknownKeepalive, strangerRelay]
  const isError = (packet: Buffer): boolean => {
    const decoded = decodePacket(packet)
    return decoded.ok && decoded.value.type === PacketType.Error
  }
  const errorsTo = (address: string, port: number): number => transport.sent.filter((s) => s.address === address && s.port === port && isError(s.packet)).length

  const perSecond: number[] = []
  for (let second = 0; second < SECONDS; second++) {
    const before = errorsTo('198.51.100.7', 4000)
    // BURST bad packets spread over this second, 1 ms apart, every kind of refusal mixed
    for (let i = 0; i < BURST; i++) {
      transport.receiver(kinds[i % kinds.length]!, '198.51.100.7', 4000)
      clock.jump(1)
    }
    perSecond.push(errorsTo('198.51.100.7', 4000) - before)
  }
  t.comment(`ERRORs to one source, second by second: ${perSecond.join(', ')}, for ${BURST} bad packets a second`)
  t.ok(perSecond[0]! <= ERROR_BURST, `first second: at most the burst of ${ERROR_BURST}`)
  t.ok(perSecond.slice(1).every((n) => n <= ERRORS_PER_SECOND), `every later second: at most ${ERRORS_PER_SECOND}`)
  t.ok(perSecond.every((n) => n >= 1), 'and the source still learns why, every second')
  t.equal(sn.drops['bad-cookie'] + sn.drops['unknown-edge'] + sn.drops['relay-unknown-sender'] + sn.drops['rate-limited'], BURST * SECONDS, 'every bad packet counted')

  // another source (same address, other port) has a budget of its own
  transport.receiver(badCookie, '198.51.100.7', 4001)
  t.equal(errorsTo('198.51.100.7', 4001), 1, 'another source is answered')
})
