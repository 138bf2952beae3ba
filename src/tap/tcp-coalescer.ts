// Receive coalescing for the TAP device, as the kernel's GRO does for a network card: consecutive
// frames of one TCP flow, in order and of one size (the last may be shorter), written during one
// turn of the event loop are merged into one frame and handed to the kernel as a single GRO
// packet. The host's TCP stack then does its per-packet work once per run instead of once per
// frame: that work, done inside the TAP write, was most of the receiving edge's time.
// Everything else (and any frame that does not continue the run) goes through as it is, in order.
import { TCP_FLAG_ACK, TCP_FLAG_PSH, TcpSegment, finishMergedHeaders, readTcpSegment, sameRunHeaders, setTcpFlags, TCP_HEADER_OFFSET } from '../wire/tcp-segment.js'

/** A merged frame stays within an IPv4 packet's 64 KB. */
const MAX_RUN_BYTES = 65_000
/** At most this many segments in one run, as GRO (MAX_GSO_SEGS is larger, but nothing gains beyond). */
const MAX_RUN_SEGMENTS = 64

/** Where frames go: as they are, or (segmentBytes > 0) as a merged run of segments of that size. */
export interface CoalescedSink {
  writeFrame(frame: Buffer): boolean
  writeRun(frame: Buffer, segmentBytes: number, headerBytes: number, checksumStart: number): boolean
}

export class TcpCoalescer {
  private readonly run = Buffer.allocUnsafe(MAX_RUN_BYTES)
  private runLength = 0
  private segments = 0
  private segmentBytes = 0
  private headerBytes = 0
  private nextSeq = 0
  /** the run's last segment was short or pushed: nothing may follow it */
  private ended = false
  private readonly segment = new TcpSegment()
  /** frames refused by the kernel when their run was written */
  refused = 0
  /** runs of two or more segments written as one */
  merged = 0

  constructor(private readonly sink: CoalescedSink) {}

  /** Takes a frame (copied if it is held); false when it went straight through and was refused. */
  write(frame: Buffer): boolean {
    const s = this.segment
    if (!readTcpSegment(frame, s) || s.payloadBytes === 0 || (s.flags & ~(TCP_FLAG_ACK | TCP_FLAG_PSH)) !== 0 || (s.flags & TCP_FLAG_ACK) === 0) {
      this.flush()
      return this.sink.writeFrame(frame)
    }
    if (!this.continuesRun(frame, s)) {
      this.flush()
      frame.copy(this.run, 0, 0, s.headerBytes + s.payloadBytes)
      this.runLength = s.headerBytes + s.payloadBytes
      this.segments = 1
      this.segmentBytes = s.payloadBytes
      this.headerBytes = s.headerBytes
    } else {
      frame.copy(this.run, this.runLength, s.headerBytes, s.headerBytes + s.payloadBytes)
      this.runLength += s.payloadBytes
      this.segments++
      if ((s.flags & TCP_FLAG_PSH) !== 0) setTcpFlags(this.run, TCP_FLAG_ACK | TCP_FLAG_PSH)
    }
    this.nextSeq = (s.seq + s.payloadBytes) >>> 0
    this.ended = s.payloadBytes < this.segmentBytes || (s.flags & TCP_FLAG_PSH) !== 0
    return true
  }

  private continuesRun(frame: Buffer, s: TcpSegment): boolean {
    return (
      this.segments > 0 &&
      !this.ended &&
      this.segments < MAX_RUN_SEGMENTS &&
      s.seq === this.nextSeq &&
      s.headerBytes === this.headerBytes &&
      s.payloadBytes <= this.segmentBytes &&
      this.runLength + s.payloadBytes <= MAX_RUN_BYTES &&
      sameRunHeaders(this.run, frame, s.headerBytes)
    )
  }

  /** Writes the run held, if any: one frame as it was, or the merged frame. */
  flush(): void {
    if (this.segments === 0) return
    const frame = this.run.subarray(0, this.runLength)
    let written: boolean
    if (this.segments === 1) {
      written = this.sink.writeFrame(frame)
    } else {
      finishMergedHeaders(frame, this.runLength)
      written = this.sink.writeRun(frame, this.segmentBytes, this.headerBytes, TCP_HEADER_OFFSET)
      this.merged++
    }
    if (!written) this.refused += this.segments
    this.segments = 0
    this.runLength = 0
  }

  get holding(): boolean {
    return this.segments > 0
  }
}
