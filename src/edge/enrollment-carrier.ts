// Which way a technician's enrollment asks travel to one supernode: the UDP socket, or the
// supernode's fallback WebSocket (TLS) when UDP gets no answer. The rules are the supernode link's
// (supernode-link.ts, docs/PROTOCOL.md §9), with its constants: the fallback is dialled at the
// start of a race; a COOKIE over UDP within UDP_HEAD_START_MS wins and the fallback is closed;
// otherwise the asks move to the fallback once it is open, and a HELLO over UDP every
// UDP_RETRY_ON_FALLBACK_MS looks for UDP's return. A fallback that fails or closes is dialled again
// after FALLBACK_RETRY_FIRST_MS, doubling up to FALLBACK_RETRY_MAX_MS, reset once one opens.
// The enrollment protocol itself (cookies, the handshake, polls) is enrollment-client.ts's.
import type { Transport } from '../net/transport.js'
import type { Clock } from '../time/clock.js'
import type { CarrierDrop, StreamCarrier } from '../net/ws-carrier.js'
import { FALLBACK_RETRY_FIRST_MS, FALLBACK_RETRY_MAX_MS, UDP_HEAD_START_MS, UDP_RETRY_ON_FALLBACK_MS, type LinkTransport } from './supernode-link.js'

/** Opens a supernode's fallback stream to a URL (edge.ts's OpenFallback: the same WebSocket an edge uses). */
export type OpenEnrollmentFallback = (url: URL, drop: (reason: CarrierDrop) => void) => Promise<StreamCarrier>

export interface EnrollmentCarrierHost {
  /** a datagram over the fallback: from the supernode, as the connection to its URL (TLS) vouches */
  received(msg: Buffer): void
  /** the fallback that carried the asks closed: what was under way over it starts again */
  lost(): void
  /** a line worth logging (the asks moved, the fallback failed) */
  notice(line: string): void
  /** what the fallback's send queue dropped, by reason */
  dropped(reason: CarrierDrop): void
}

export class EnrollmentCarrier {
  /** where asks go now */
  way: 'udp' | 'stream' = 'udp'
  /** streams opened (for tests and the log) */
  opened = 0
  private fallback: URL | null = null
  private label = ''
  private stream: StreamCarrier | null = null
  private dialling = false
  private nextDialAt = 0
  private backoffMs = FALLBACK_RETRY_FIRST_MS
  private raceStartedAt = 0
  /** UDP answered in this race: the fallback is neither used nor dialled until the next race */
  private udpAnswered = false
  private nextUdpHelloAt = 0
  /** a dial that completes after begin() or close() belongs to an earlier race: closed unused */
  private race = 0

  constructor(
    private readonly udp: Transport,
    private readonly open: OpenEnrollmentFallback | undefined,
    private readonly clock: Clock,
    private readonly host: EnrollmentCarrierHost,
  ) {}

  /** The transport asks use now: udp, or the fallback's tls / ws. */
  get transport(): LinkTransport {
    return this.way === 'stream' && this.stream !== null ? this.stream.kind : 'udp'
  }

  /** A fallback connection is being opened: UDP's silence does not yet mean the supernode is gone. */
  get pending(): boolean {
    return this.dialling || (this.stream !== null && this.way === 'udp')
  }

  /** A new race toward a supernode (`label` for messages): UDP first, its fallback (if any) dialled now. */
  begin(label: string, fallback: URL | null, now: number): void {
    this.closeStream()
    this.race++
    this.label = label
    this.fallback = this.open === undefined ? null : fallback
    this.backoffMs = FALLBACK_RETRY_FIRST_MS
    this.restart(now)
    this.nextDialAt = now
  }

  /** Called every client tick; true when the asks have just moved to the fallback (the caller starts over on it). */
  tick(now: number): boolean {
    if (this.fallback === null || this.udpAnswered) return false
    if (this.stream === null && !this.dialling && now >= this.nextDialAt) this.dial(this.fallback)
    if (this.way !== 'udp' || this.stream === null || now - this.raceStartedAt < UDP_HEAD_START_MS) return false
    this.way = 'stream'
    this.nextUdpHelloAt = now + UDP_RETRY_ON_FALLBACK_MS
    this.host.notice(`no UDP answer from supernode ${this.label} within ${UDP_HEAD_START_MS / 1000} s: asking over ${this.stream.url} (${this.stream.kind})`)
    return true
  }

  /** While on the fallback: whether a HELLO over UDP is due now (it looks for UDP's return). */
  udpRetryDue(now: number): boolean {
    if (this.way !== 'stream' || now < this.nextUdpHelloAt) return false
    this.nextUdpHelloAt = now + UDP_RETRY_ON_FALLBACK_MS
    return true
  }

  /** A COOKIE came over UDP: UDP wins this race (or is back), and the fallback is closed. */
  udpWorks(): void {
    if (this.way === 'stream') this.host.notice(`supernode ${this.label} answers over UDP again: asking over UDP`)
    this.udpAnswered = true
    this.way = 'udp'
    this.closeStream()
  }

  /** Sends over the way in use (the address and port matter to UDP only). */
  send(buf: Buffer, port: number, address: string): void {
    if (this.way === 'stream') this.stream?.send(buf, 0, buf.length, port, address)
    else this.udp.send(buf, 0, buf.length, port, address)
  }

  /** Closes the fallback and dials no more (until the next begin: another supernode, or the client stops). */
  close(): void {
    this.race++
    this.fallback = null
    this.closeStream()
  }

  private restart(now: number): void {
    this.way = 'udp'
    this.udpAnswered = false
    this.raceStartedAt = now
  }

  private dial(url: URL): void {
    const race = this.race
    this.dialling = true
    this.open!(url, (reason) => this.host.dropped(reason)).then(
      (stream) => {
        if (race !== this.race) return void stream.close()
        this.dialling = false
        if (this.udpAnswered) return void stream.close()
        this.stream = stream
        this.opened++
        this.backoffMs = FALLBACK_RETRY_FIRST_MS
        stream.onDatagram((msg) => {
          if (stream === this.stream) this.host.received(msg)
        })
        stream.onClosed((why) => this.closed(stream, why))
      },
      (err: unknown) => {
        if (race !== this.race) return
        this.dialling = false
        this.scheduleDial()
        if (!this.udpAnswered) this.host.notice(`fallback ${url.href} failed: ${(err as Error).message}`)
      },
    )
  }

  private closed(stream: StreamCarrier, why: string): void {
    if (stream !== this.stream) return
    this.stream = null
    this.scheduleDial()
    if (this.way !== 'stream') return
    this.host.notice(`fallback ${stream.url} closed (${why}): asking again`)
    // the race starts again, as after a lost registration: UDP first, with its head start
    this.restart(this.clock.now())
    this.host.lost()
  }

  private scheduleDial(): void {
    this.nextDialAt = this.clock.now() + this.backoffMs
    this.backoffMs = Math.min(FALLBACK_RETRY_MAX_MS, this.backoffMs * 2)
  }

  private closeStream(): void {
    const stream = this.stream
    this.stream = null
    this.dialling = false
    if (stream !== null) void stream.close()
  }
}
