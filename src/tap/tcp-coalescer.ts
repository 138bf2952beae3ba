// Receive coalescing for the TAP device, as the kernel's GRO does for a network card: consecutive
// frames of one TCP flow, in order and of one size (the last may be shorter), written during one
// turn of the event loop are merged into one frame and handed to the kernel as a single GRO
// packet. The host's TCP stack then does its per-packet work once per run instead of once per
// frame: that work, done inside the TAP write, was most of the receiving edge's time.
// Everything else (and any frame that does not continue the run) goes through as it is, in order.
//
// A merged run reaches the host with its checksum left to the "device" (us): the host trusts it.
// So, as GRO does, every segment that joins a run has its IPv4 and TCP checksums verified first
// (the first one when a second joins it, so that a segment written alone costs nothing); one
// that fails goes through alone, for the kernel to check, drop and count, and TCP to retransmit.
import {
  MAX_IPV4_FRAME_BYTES,
  TCP_FLAG_ACK,
  TCP_FLAG_PSH,
  TCP_HEADER_OFFSET,
  TcpSegment,
  finishMergedHeaders,
  readTcpSegment,
  sameRunHeaders,
  setTcpFlags,
  tcpChecksumsValid,
} from '../wire/tcp-segment.js'

/**
 * Room for the largest IPv4 frame there is (MTU up to 65,521), so a segment is never cut short
 * when it is copied in; a run stops growing when the next segment would not fit, which also keeps
 * the merged packet within IPv4's 64 KB.
 */
const MAX_RUN_BYTES = MAX_IPV4_FRAME_BYTES
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
  /** the IPv4 identification the next segment must carry (unless DF is set) */
  private nextIpId = 0
  /** the run's last segment was short or pushed: nothing may follow it */
  private ended = false
  private readonly segment = new TcpSegment()
  /** frames refused by the kernel when their run was written */
  refused = 0
  /** runs of two or more segments written as one */
  merged = 0
  /** segments kept out of a run because their IPv4 or TCP checksum was wrong (written alone) */
  badChecksums = 0

  constructor(private readonly sink: CoalescedSink) {}

  /** Takes a frame (copied if it is held); false when it went straight through and was refused. */
  write(frame: Buffer): boolean {
    const s = this.segment
    if (!readTcpSegment(frame, s) || s.payloadBytes === 0 || (s.flags & ~(TCP_FLAG_ACK | TCP_FLAG_PSH)) !== 0 || (s.flags & TCP_FLAG_ACK) === 0) {
      this.flush()
      return this.sink.writeFrame(frame)
    }
    const length = s.headerBytes + s.payloadBytes
    if (!this.continuesRun(frame, s)) {
      this.flush()
      this.startRun(frame, s)
      return true
    }
    if (this.segments === 1 && !tcpChecksumsValid(this.run, this.runLength)) {
      // the held segment was about to become the head of a merged run: it goes alone instead
      this.badChecksums++
      this.flush()
      this.startRun(frame, s)
      return true
    }
    if (!tcpChecksumsValid(frame, length)) {
      this.badChecksums++
      this.flush()
      return this.sink.writeFrame(frame)
    }
    frame.copy(this.run, this.runLength, s.headerBytes, length)
    this.runLength += s.payloadBytes
    this.segments++
    if ((s.flags & TCP_FLAG_PSH) !== 0) setTcpFlags(this.run, TCP_FLAG_ACK | TCP_FLAG_PSH)
    this.advance(s)
    return true
  }

  private startRun(frame: Buffer, s: TcpSegment): void {
    const length = s.headerBytes + s.payloadBytes
    frame.copy(this.run, 0, 0, length)
    this.runLength = length
    this.segments = 1
    this.segmentBytes = s.payloadBytes
    this.headerBytes = s.headerBytes
    this.advance(s)
  }

  private advance(s: TcpSegment): void {
    this.nextSeq = (s.seq + s.payloadBytes) >>> 0
    this.nextIpId = (s.ipId + 1) & 0xffff
    this.ended = s.payloadBytes < this.segmentBytes || (s.flags & TCP_FLAG_PSH) !== 0
  }

  private continuesRun(frame: Buffer, s: TcpSegment): boolean {
    return (
      this.segments > 0 &&
      !this.ended &&
      this.segments < MAX_RUN_SEGMENTS &&
      s.seq === this.nextSeq &&
      // as GRO: the kernel gives the segments of a merged packet consecutive IDs again if it
      // ever cuts it, and without DF the ID is what fragments are put back together by
      (s.dontFragment || s.ipId === this.nextIpId) &&
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
