// One SCTP association with one peer (werift-sctp): reliable, ordered, flow- and
// congestion-controlled streams whose packets go out through a callback (the pair session seals
// them as SESSION_DATA kind 4) and come in through receive(). Nothing here knows about sockets or
// TCP; pipe.ts puts one TCP connection on one SCTP stream.
import { createRequire } from 'node:module'
import type * as Werift from 'werift-sctp'
import type { SCTP } from 'werift-sctp'
import type { Logger } from '../../log/logger.js'

/**
 * werift-sctp (CommonJS), required at the first association rather than imported: every edge loads
 * this module with its stream hub, and werift with its dependencies (~50 ms) would otherwise add to
 * the start-up of the many edges that never carry a stream.
 */
let werift: typeof Werift | null = null
function sctpModule(): typeof Werift {
  werift ??= createRequire(import.meta.url)('werift-sctp') as typeof Werift
  return werift
}

/** Both ends use the same SCTP port: the association is already bound to its pair session. */
const SCTP_PORT = 5000
/** WebRTC's PPID for binary messages: any value works between two overlan edges, this one is registered. */
const PPID_BINARY = 53

/** At most this many chunks wait in werift's queue (about 150 KB): more only costs memory. */
const QUEUE_CHUNKS = 128
/** After this many messages werift's queue must run empty once (see `congested`). */
const MAX_SENDS_UNTIL_EMPTY = 16

export type AssociationRole = 'client' | 'server'

export interface AssociationEvents {
  /** a whole message of one stream, in order */
  message(streamId: number, data: Buffer): void
  /** the association can take more data (werift transmitted and its queue shrank) */
  flushed(): void
  /** the association was established */
  connected(): void
  /** it closed (aborted by the peer, or retransmissions gave up) */
  closed(): void
  /** werift refused a packet from the peer (bad checksum, an unknown or malformed chunk) */
  refused(): void
}

/** werift's packet handler (TypeScript-private in werift-sctp 0.0.11): see PeerAssociation.receive. */
interface WeriftHandler {
  handleData(packet: Buffer): Promise<void>
}

export class PeerAssociation {
  private readonly sctp: SCTP
  private readonly handler: WeriftHandler
  private readonly transport: { onData?: (buf: Buffer) => void; send: (buf: Buffer) => Promise<void>; close: () => void }
  state: 'connecting' | 'connected' | 'closed' = 'connecting'
  private flushScheduled = false
  /** werift send() calls made since its queue was last seen empty (each one still waiting on werift's flush event) */
  private sendsSinceEmpty = 0

  constructor(
    readonly role: AssociationRole,
    send: (packet: Buffer) => void,
    private readonly events: AssociationEvents,
    private readonly log: Logger,
  ) {
    // werift awaits each send; ours is synchronous (the session seals and the socket queues)
    this.transport = {
      send: (buf) => {
        if (this.state !== 'closed') send(buf)
        return Promise.resolve()
      },
      close: () => {},
    }
    const { SCTP: Sctp } = sctpModule()
    this.sctp = role === 'client' ? Sctp.client(this.transport, SCTP_PORT) : Sctp.server(this.transport, SCTP_PORT)
    this.handler = this.sctp as unknown as WeriftHandler
    // another werift version may have renamed it: fail at the first association (tests), not with the first refused packet
    if (typeof this.handler.handleData !== 'function') throw new Error('werift-sctp has no handleData: overlan is written for werift-sctp 0.0.11')
    this.sctp.onReceive.subscribe((streamId, _ppid, data) => events.message(streamId, data))
    this.sctp.flush.subscribe(() => this.flushed())
    this.sctp.stateChanged.connected.subscribe(() => {
      if (this.state !== 'connecting') return
      this.state = 'connected'
      events.connected()
    })
    this.sctp.stateChanged.closed.subscribe(() => this.closed())
  }

  start(): void {
    this.sctp.start(SCTP_PORT).catch((err: unknown) => this.log.warn(`stream association: ${(err as Error).message}`))
  }

  /**
   * An SCTP packet from the peer (a copy: werift keeps chunks for reassembly), already checked by
   * checkSctpPacket. werift's own transport callback drops the promise its handleData returns, so a
   * packet it refuses by throwing (bad checksum, an unknown chunk type, a chunk too short for its
   * type) would be an unhandled rejection, which ends the process: any member could stop an edge
   * with one packet. The handler is called here instead, and a refusal counted.
   */
  receive(packet: Buffer): void {
    if (this.state === 'closed') return
    this.handler.handleData(packet).catch(() => this.events.refused())
  }

  /** Queues one message on a stream; werift sends it as its congestion and receive windows allow. */
  send(streamId: number, message: Buffer): void {
    if (this.state === 'closed') return
    this.sendsSinceEmpty++
    this.sctp.send(streamId, PPID_BINARY, message).catch((err: unknown) => this.log.debug(`stream ${streamId}: ${(err as Error).message}`))
  }

  /**
   * Whether werift holds enough not yet sent: callers then wait for `flushed`. The queue is kept
   * short (QUEUE_CHUNKS) and, every MAX_SENDS_UNTIL_EMPTY messages, left to run empty, because each
   * werift send() stays subscribed to its flush event until the whole queue is empty: a queue that
   * never empties (the previous 1 MB high-water mark) piled up hundreds of subscribers, every flush
   * (one per SACK) walked them all, and a transfer went CPU bound at 3 to 8 Mbit/s.
   */
  get congested(): boolean {
    const queued = this.sctp.outboundQueue.length
    return queued > 0 && (queued >= QUEUE_CHUNKS || this.sendsSinceEmpty >= MAX_SENDS_UNTIL_EMPTY)
  }

  /** Ends the association (an ABORT to the peer) and every timer of werift's. */
  close(): void {
    if (this.state === 'closed') return
    void this.sctp.stop().catch(() => {})
    this.closed()
  }

  /**
   * werift flushed (after each transmit). With room in its queue, callers refill it at once (inside
   * the flush: werift then transmits again before it returns). Once it ran empty, `flushed` waits for
   * the next turn of the event loop: the pending send() calls must first see the empty queue and
   * drop their subscriptions, which a refill made inside the flush would hide from them.
   */
  private flushed(): void {
    if (this.state === 'closed') return
    if (this.sctp.outboundQueue.length > 0) {
      if (!this.congested) this.events.flushed()
      return
    }
    this.sendsSinceEmpty = 0
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      if (this.state !== 'closed') this.events.flushed()
    })
  }

  private closed(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.events.closed()
  }
}
