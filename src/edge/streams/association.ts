// One SCTP association with one peer (werift-sctp): reliable, ordered, flow- and
// congestion-controlled streams whose packets go out through a callback (the pair session seals
// them as SESSION_DATA kind 4) and come in through receive(). Nothing here knows about sockets or
// TCP; pipe.ts puts one TCP connection on one SCTP stream.
import { SCTP } from 'werift-sctp'
import type { Logger } from '../../log/logger.js'

/** Both ends use the same SCTP port: the association is already bound to its pair session. */
const SCTP_PORT = 5000
/** WebRTC's PPID for binary messages: any value works between two overlan edges, this one is registered. */
const PPID_BINARY = 53
/** werift-sctp cuts messages into chunks of this many bytes (its USERDATA_MAX_LENGTH). */
export const SCTP_CHUNK_BYTES = 1200

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
}

export class PeerAssociation {
  private readonly sctp: SCTP
  private readonly transport: { onData?: (buf: Buffer) => void; send: (buf: Buffer) => Promise<void>; close: () => void }
  state: 'connecting' | 'connected' | 'closed' = 'connecting'

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
    this.sctp = role === 'client' ? SCTP.client(this.transport, SCTP_PORT) : SCTP.server(this.transport, SCTP_PORT)
    this.sctp.onReceive.subscribe((streamId, _ppid, data) => events.message(streamId, data))
    this.sctp.flush.subscribe(() => events.flushed())
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

  /** An SCTP packet from the peer (a copy: werift keeps chunks for reassembly). */
  receive(packet: Buffer): void {
    if (this.state === 'closed') return
    this.transport.onData?.(packet)
  }

  /** Queues one message on a stream; werift sends it as its congestion and receive windows allow. */
  send(streamId: number, message: Buffer): void {
    if (this.state === 'closed') return
    this.sctp.send(streamId, PPID_BINARY, message).catch((err: unknown) => this.log.debug(`stream ${streamId}: ${(err as Error).message}`))
  }

  /** Bytes queued in werift and not yet sent (its outbound queue holds chunks of at most SCTP_CHUNK_BYTES). */
  get queuedBytes(): number {
    return this.sctp.outboundQueue.length * SCTP_CHUNK_BYTES
  }

  /** Ends the association (an ABORT to the peer) and every timer of werift's. */
  close(): void {
    if (this.state === 'closed') return
    void this.sctp.stop().catch(() => {})
    this.closed()
  }

  private closed(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.events.closed()
  }
}
