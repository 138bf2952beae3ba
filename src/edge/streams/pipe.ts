// One TCP connection on one SCTP stream, the same on both sides: socket reads go out as DATA
// messages, DATA coming in is written to the socket, FIN is END, an error or a close before both
// FINs is RESET. SCTP's own receive window covers the whole association and werift delivers at
// once, so each stream has a credit window of its own: the sender sends at most STREAM_WINDOW
// bytes the receiver has not yet handed to its socket (WINDOW messages give credit back). A slow
// socket on one side therefore stops its own stream only, and memory stays bounded.
import type { Socket } from 'node:net'
import { MAX_STREAM_DATA, StreamMessageType, type StreamMessage, type StreamRefusal } from '../../wire/stream.js'

/** Per-stream credit: a 1 Gbit/s stream at 2 ms RTT needs 250 KB in flight. */
export const STREAM_WINDOW = 256 * 1024
/** Credit goes back once this much has reached the socket (not per write: fewer WINDOW messages). */
const WINDOW_UPDATE_BYTES = STREAM_WINDOW / 4

export interface PipeOwner {
  /** sends one message on this stream */
  send(message: StreamMessage): void
  /** whether the association's queue is too full to take more data now */
  congested(): boolean
  /** the stream is over (both FINs and the socket closed, or reset): bytes and why */
  done(pipe: StreamPipe, reason: StreamRefusal | null): void
}

export class StreamPipe {
  /** bytes carried from the peer to our socket, and from our socket to the peer */
  bytesFromPeer = 0
  bytesToPeer = 0
  private socket: Socket | null = null
  private credit = STREAM_WINDOW
  /** received and not yet credited back (written to the socket or still queued there) */
  private outstanding = 0
  private unreported = 0
  /** read from the socket beyond the credit: sent when credit comes back */
  private held: Buffer[] = []
  private heldBytes = 0
  /** our socket's program ended its side (FIN read) */
  private localEof = false
  private endSent = false
  private remoteEnded = false
  private socketClosed = false
  private finished = false

  constructor(
    readonly id: number,
    readonly port: number,
    readonly startedAt: number,
    private readonly owner: PipeOwner,
  ) {}

  /** Starts carrying the socket's bytes (after ACCEPT on the technician's side, after connect on the device's). */
  attach(socket: Socket): void {
    this.socket = socket
    socket.on('data', (data: Buffer) => this.fromSocket(data))
    socket.on('end', () => {
      this.localEof = true
      this.flushHeld()
    })
    socket.on('error', () => this.reset('unspecified'))
    socket.on('close', () => {
      this.socketClosed = true
      // closed before both sides ended (the program aborted, or its socket failed): the peer must know
      if (!(this.localEof && this.remoteEnded)) this.reset('unspecified')
      else this.maybeFinish()
    })
    socket.resume()
  }

  /** A message for this stream from the peer (OPEN, ACCEPT and REFUSE are the owner's). */
  onMessage(message: StreamMessage): void {
    if (this.finished) return
    switch (message.type) {
      case StreamMessageType.Data:
        this.fromPeer(message.data)
        return
      case StreamMessageType.Window:
        this.credit += message.credit
        this.flushHeld()
        return
      case StreamMessageType.End:
        this.remoteEnded = true
        this.socket?.end()
        return
      case StreamMessageType.Reset:
        this.finish(message.reason)
        return
      default:
        this.reset('protocol')
    }
  }

  /** The association can take more: held data goes if there is credit. */
  resume(): void {
    this.flushHeld()
  }

  /** Ends the stream now: RESET to the peer, the socket destroyed. */
  reset(reason: StreamRefusal): void {
    if (this.finished) return
    this.owner.send({ type: StreamMessageType.Reset, reason })
    this.finish(reason)
  }

  get isFinished(): boolean {
    return this.finished
  }

  private fromSocket(data: Buffer): void {
    this.held.push(data)
    this.heldBytes += data.length
    this.flushHeld()
  }

  private flushHeld(): void {
    if (this.finished) return
    while (this.held.length > 0 && this.credit > 0 && !this.owner.congested()) {
      const first = this.held[0]!
      const n = Math.min(first.length, this.credit, MAX_STREAM_DATA)
      const piece = first.subarray(0, n)
      if (n === first.length) this.held.shift()
      else this.held[0] = first.subarray(n)
      this.heldBytes -= n
      this.credit -= n
      this.bytesToPeer += n
      this.owner.send({ type: StreamMessageType.Data, data: piece })
    }
    // our socket stops reading while its data waits: TCP then pushes back on the program that writes
    if (this.heldBytes > 0) this.socket?.pause()
    else {
      if (!this.localEof) this.socket?.resume()
      else if (!this.endSent) {
        this.endSent = true
        this.owner.send({ type: StreamMessageType.End })
        this.maybeFinish()
      }
    }
  }

  /** Both FINs carried and the socket closed: a clean end. */
  private maybeFinish(): void {
    if (this.endSent && this.remoteEnded && this.socketClosed) this.finish(null)
  }

  private fromPeer(data: Buffer): void {
    const socket = this.socket
    // a peer that sends beyond the credit we gave, or after its END, breaks the protocol
    if (socket === null || this.remoteEnded || this.outstanding + data.length > STREAM_WINDOW) {
      this.reset('protocol')
      return
    }
    this.outstanding += data.length
    this.bytesFromPeer += data.length
    const length = data.length
    // werift hands us a buffer it no longer needs; the socket may keep it until written
    socket.write(data, () => this.written(length))
  }

  private written(length: number): void {
    if (this.finished) return
    this.unreported += length
    if (this.unreported < WINDOW_UPDATE_BYTES) return
    this.outstanding -= this.unreported
    this.owner.send({ type: StreamMessageType.Window, credit: this.unreported })
    this.unreported = 0
  }

  private finish(reason: StreamRefusal | null): void {
    if (this.finished) return
    this.finished = true
    this.held = []
    this.heldBytes = 0
    if (reason !== null) this.socket?.destroy()
    this.owner.done(this, reason)
  }
}
