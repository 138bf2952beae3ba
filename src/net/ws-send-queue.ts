// What waits to go out on one WebSocket connection. TCP under an overlay that carries TCP is the
// known meltdown (TCP-over-TCP): when the client reads slowly, frames pile up in socket buffers
// and arrive seconds late, and the inner TCP retransmits on top. So the socket is handed only a
// little at a time (`bufferedAmount` below a cap); the rest waits here, bounded in bytes, where
// data (sealed frames) is dropped oldest first and control packets (registration, keepalives,
// peer introductions) go first and push data out before they are dropped themselves.

/** Why a datagram was dropped here instead of being handed to the socket. */
export type QueueDrop = 'queue-drop-data' | 'queue-drop-control' | 'stale-data'

export interface SendQueueLimits {
  /** bytes waiting here, control and data together */
  queueBytes: number
  /** data older than this is dropped instead of sent: it would arrive too late to matter */
  dataMaxAgeMs: number
}

interface Waiting {
  buf: Buffer
  at: number
}

/** Two FIFO lists of copies (the caller's buffer may be a reused receive slot). */
export class SendQueue {
  private readonly control: Waiting[] = []
  private readonly data: Waiting[] = []
  private bytes = 0

  constructor(
    private readonly limits: SendQueueLimits,
    private readonly dropped: (reason: QueueDrop) => void,
  ) {}

  get queuedBytes(): number {
    return this.bytes
  }

  get length(): number {
    return this.control.length + this.data.length
  }

  /** Queues a copy of `buf`; `isData`: a sealed frame (droppable), else a control packet. */
  push(buf: Buffer, isData: boolean, now: number): void {
    const size = buf.length
    // make room: the oldest data goes first, for data and control alike
    while (this.bytes + size > this.limits.queueBytes && this.data.length > 0) {
      this.bytes -= this.data.shift()!.buf.length
      this.dropped('queue-drop-data')
    }
    if (this.bytes + size > this.limits.queueBytes) {
      // only control is waiting, and it fills the queue: this one is not sent
      this.dropped(isData ? 'queue-drop-data' : 'queue-drop-control')
      return
    }
    ;(isData ? this.data : this.control).push({ buf: Buffer.from(buf), at: now })
    this.bytes += size
  }

  /** The next datagram to send (control first), or null; data that waited too long is dropped on the way. */
  shift(now: number): Buffer | null {
    const control = this.control.shift()
    if (control !== undefined) {
      this.bytes -= control.buf.length
      return control.buf
    }
    for (let next = this.data.shift(); next !== undefined; next = this.data.shift()) {
      this.bytes -= next.buf.length
      if (now - next.at <= this.limits.dataMaxAgeMs) return next.buf
      this.dropped('stale-data')
    }
    return null
  }

  clear(): void {
    this.control.length = 0
    this.data.length = 0
    this.bytes = 0
  }
}
