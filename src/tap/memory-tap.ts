// A TAP device in memory, for tests: inject() plays the host sending a frame, written holds what
// the edge delivered to the host.
import type { FrameReceiver, TapDevice } from './device.js'

export class MemoryTap implements TapDevice {
  readonly written: Buffer[] = []
  closed = false
  private receiver: FrameReceiver | null = null
  private waiters: { count: number; resolve: () => void }[] = []

  constructor(
    readonly name: string,
    readonly mac: Buffer,
    readonly mtu = 1400,
  ) {}

  onFrame(receiver: FrameReceiver): void {
    this.receiver = receiver
  }

  /** The host sends a frame into the overlay. */
  inject(frame: Buffer): void {
    if (this.closed || this.receiver === null) return
    this.receiver(frame)
  }

  write(frame: Buffer): boolean {
    if (this.closed) return false
    this.written.push(Buffer.from(frame))
    this.waiters = this.waiters.filter((w) => {
      if (this.written.length < w.count) return true
      w.resolve()
      return false
    })
    return true
  }

  /** Resolves once `count` frames in all have reached the host; rejects after `timeoutMs` of real time. */
  async waitForWritten(count: number, timeoutMs = 5_000): Promise<void> {
    if (this.written.length >= count) return
    let timer: NodeJS.Timeout | undefined
    const arrived = new Promise<void>((resolve) => this.waiters.push({ count, resolve }))
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name}: ${this.written.length} of ${count} frames after ${timeoutMs} ms`)), timeoutMs)
    })
    try {
      await Promise.race([arrived, late])
    } finally {
      clearTimeout(timer)
    }
  }

  close(): Promise<void> {
    this.closed = true
    return Promise.resolve()
  }
}
