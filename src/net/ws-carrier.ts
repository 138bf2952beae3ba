// A supernode reached over a WebSocket, as a Transport: each binary message is one datagram of the
// protocol, both ways, and there is only one destination (the address and port given to send() are
// those of the supernode and play no part). Sending is bounded: TCP delivers late rather than never,
// so frames must not pile up behind a slow link (TCP-over-TCP meltdown). At most
// WS_INFLIGHT_CAP_BYTES are handed to the socket unwritten; beyond that messages wait here, control
// (registration, keepalives, queries) before data, and the oldest data is dropped when its queue is
// full: a fresh frame is worth more to the overlay's own TCP than a stale one.
import type WebSocket from 'ws'
import { isBulkType } from '../wire/index.js'
import type { DatagramReceiver, Transport } from './transport.js'
import type { WsConnection } from './ws-connect.js'

/** Bytes handed to the socket and not yet written: above this, messages wait where they can still be dropped. */
export const WS_INFLIGHT_CAP_BYTES = 64 * 1024
/** Data waiting behind the cap: about 100 ms at 10 Mbit/s; older frames are dropped first. */
export const WS_DATA_QUEUE_BYTES = 128 * 1024
/** Control messages waiting behind the cap (a handful per second in normal operation). */
export const WS_CONTROL_QUEUE_MESSAGES = 64

/** A stop waits this long at most for its DEREGISTER to be written (a stalled connection would hold it forever). */
export const WS_FLUSH_LIMIT_MS = 1_000

export type CarrierDrop = 'fallback-queue-full' | 'fallback-closed' | 'fallback-not-binary'

/** How a supernode is reached over a stream: `tls` = WebSocket over TLS, `ws` = plain WebSocket. */
export type StreamKind = 'tls' | 'ws'

/** What the edge needs of a stream carrier (WsCarrier; tests may give their own). */
export interface StreamCarrier extends Transport {
  readonly kind: StreamKind
  /** the URL it was opened to */
  readonly url: string
  /** called once when the connection is gone (closed by either side, or failed) */
  onClosed(listener: (why: string) => void): void
}

export class WsCarrier implements StreamCarrier {
  readonly kind: StreamKind
  readonly url: string
  private readonly ws: WebSocket
  private receiver: DatagramReceiver = () => {}
  private closedListener: (why: string) => void = () => {}
  private inflight = 0
  private readonly control: Buffer[] = []
  private data: Buffer[] = []
  private dataHead = 0
  private dataBytes = 0
  private closed = false
  /** the closed listener was called (once, whichever of close and error came first) */
  private notified = false
  private readonly address: string
  private readonly port: number
  /** messages and bytes handed to the socket, for /status */
  sentMessages = 0
  sentBytes = 0

  constructor(
    url: URL,
    connection: WsConnection,
    private readonly drop: (reason: CarrierDrop) => void,
  ) {
    this.kind = connection.secure ? 'tls' : 'ws'
    this.url = url.href
    this.ws = connection.socket
    this.address = connection.remoteAddress
    this.port = connection.remotePort
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        this.drop('fallback-not-binary')
        return
      }
      this.receiver(data, this.address, this.port)
    })
    this.ws.on('close', (code: number, reason: Buffer) => this.gone(`connection closed (code ${code}${reason.length > 0 ? `: ${reason.toString('utf8').slice(0, 80)}` : ''})`))
    // an error is followed by 'close'; its message is the better reason
    this.ws.on('error', (err: Error) => this.gone(`connection failed: ${err.message}`))
  }

  send(buf: Buffer, offset: number, length: number): void {
    if (this.closed) {
      this.drop('fallback-closed')
      return
    }
    const message = buf.subarray(offset, offset + length)
    const isData = length >= 2 && isBulkType(message[1]!)
    if (this.inflight < WS_INFLIGHT_CAP_BYTES && this.control.length === 0 && this.queuedData() === 0) {
      this.write(message)
      return
    }
    // the caller reuses its buffer: what waits is a copy
    if (!isData) {
      if (this.control.length >= WS_CONTROL_QUEUE_MESSAGES) this.drop('fallback-queue-full')
      else this.control.push(Buffer.from(message))
      return
    }
    this.data.push(Buffer.from(message))
    this.dataBytes += length
    while (this.dataBytes > WS_DATA_QUEUE_BYTES) {
      this.dataBytes -= this.data[this.dataHead]!.length
      this.data[this.dataHead++] = EMPTY
      this.drop('fallback-queue-full')
    }
    this.compact()
  }

  sendWithTtl(buf: Buffer, offset: number, length: number): void {
    this.send(buf, offset, length)
  }

  onDatagram(receiver: DatagramReceiver): void {
    this.receiver = receiver
  }

  onClosed(listener: (why: string) => void): void {
    this.closedListener = listener
  }

  local(): { address: string; port: number } {
    return { address: this.address, port: this.port }
  }

  /** ws copies each message when it frames it (a client masks into a buffer of its own): nothing reads the caller's buffer later. */
  pendingSends(): number {
    return 0
  }

  /** Bytes waiting here and in the socket: a gauge for /status. */
  get queuedBytes(): number {
    return this.inflight + this.dataBytes + this.control.reduce((n, b) => n + b.length, 0)
  }

  /** Resolves once what was sent has been written to the socket, or after WS_FLUSH_LIMIT_MS (a stalled peer is not waited for). */
  async flush(): Promise<void> {
    if (this.closed || this.inflight === 0) return
    const giveUpAt = Date.now() + WS_FLUSH_LIMIT_MS
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.closed || (this.inflight === 0 && this.control.length === 0) || Date.now() >= giveUpAt) resolve()
        else setTimeout(check, 5)
      }
      check()
    })
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true
      this.clearQueues()
      this.ws.close(1000, 'edge moves away')
      // a peer that never completes the closing handshake is not waited for
      setTimeout(() => this.ws.terminate(), 1000).unref()
    }
    return Promise.resolve()
  }

  private write(message: Buffer): void {
    this.inflight += message.length
    this.sentMessages++
    this.sentBytes += message.length
    const length = message.length
    this.ws.send(message, { binary: true }, () => {
      this.inflight -= length
      this.drain()
    })
  }

  private drain(): void {
    while (!this.closed && this.inflight < WS_INFLIGHT_CAP_BYTES) {
      const next = this.control.shift() ?? this.takeData()
      if (next === undefined) return
      this.write(next)
    }
  }

  private takeData(): Buffer | undefined {
    if (this.dataHead >= this.data.length) return undefined
    const next = this.data[this.dataHead]!
    this.data[this.dataHead++] = EMPTY
    this.dataBytes -= next.length
    this.compact()
    return next
  }

  /** The data queue is an array read from dataHead: dropped and sent entries are cut off now and then. */
  private compact(): void {
    if (this.dataHead === this.data.length) {
      this.data = []
      this.dataHead = 0
    } else if (this.dataHead > 1024 && this.dataHead * 2 > this.data.length) {
      this.data = this.data.slice(this.dataHead)
      this.dataHead = 0
    }
  }

  private queuedData(): number {
    return this.data.length - this.dataHead
  }

  private clearQueues(): void {
    this.control.length = 0
    this.data = []
    this.dataHead = 0
    this.dataBytes = 0
  }

  private gone(why: string): void {
    if (this.notified) return
    this.notified = true
    const byUs = this.closed
    this.closed = true
    this.clearQueues()
    this.closedListener(byUs ? 'closed by the edge' : why)
  }
}

const EMPTY = Buffer.alloc(0)
