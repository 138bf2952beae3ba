// Transport over the batched UDP addon (src/native/udp.c): datagrams arrive 64 to a JavaScript
// call (recvmmsg), and sends are copied into a ring that goes to the kernel in one sendmmsg when
// the current batch of work is over (a microtask), instead of one dgram send and system call each.
// Copying at send() means a caller's buffer is free again at once (pendingSends() is always 0).
import { addonPath, loadAddon } from '../native/addon.js'
import { MAX_PACKET_BYTES } from '../wire/header.js'
import { formatIPv4, formatIPv6, ipFamily, writeIPv4, writeIPv6 } from '../wire/ip.js'
import type { DatagramReceiver, Transport } from './transport.js'

/** Large socket buffers keep bursts (a TAP batch of 64 frames, a relay fan-out) from being dropped. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
/**
 * A slot holds the largest datagram overlan sends or accepts, and more: a larger datagram arrives
 * cut to the slot, still too large for the codec, which refuses and counts it as oversized.
 */
const SLOT_BYTES = MAX_PACKET_BYTES + 64
/** Sends queued between two flushes: four relay fan-outs of a full receive batch, or a TAP batch many times over. */
const SEND_SLOTS = 1024
/** Bound on the address text caches (peers and supernodes: a handful per edge, one per edge on a supernode). */
const MAX_CACHED_ADDRESSES = 65_536
/** Layout of the per-datagram metadata shared with udp.c (META_* there). */
const META = { length: 0, port: 1, family: 2, ttl: 3, address: 4 } as const

interface NativeSocket {
  handle: unknown
  port: number
  recv: Buffer
  recvMeta: Int32Array
  send: Buffer
  sendMeta: Int32Array
}

interface NativeUdp {
  open(address: string, port: number, bufferBytes: number, slotBytes: number, sendSlots: number, gro: boolean): NativeSocket
  start(handle: unknown, onBatch: (count: number, error: string | undefined) => void): void
  send(handle: unknown, start: number, count: number): number
  close(handle: unknown): void
  stats(handle: unknown): { truncated: number; sendErrors: number; lastSendError: string | null; gso: boolean; gro: boolean; groRuns: number }
  metaInts: number
}

let addon: NativeUdp | null | undefined

/** The addon, or null where it was not built (another OS, a checkout without g++); throws when it is there but does not load. */
export function loadUdpAddon(): NativeUdp | null {
  if (addon === undefined) {
    const path = addonPath('overlan_udp')
    addon = path === null ? null : loadAddon<NativeUdp>(path)
  }
  return addon
}

/** What the socket counted; plain numbers, as the data path's other counters. */
export interface BatchUdpStats {
  /** datagrams larger than a slot, delivered cut to the slot (and refused by the codec) */
  truncated: number
  /** datagrams the kernel refused to send (no route, a firewall), dropped */
  sendErrors: number
  /** sends dropped because the ring was full while the kernel's buffer was too */
  ringFull: number
  /** the most datagrams one receive call delivered */
  largestBatch: number
  /** runs of datagrams to one peer go to the kernel as one (UDP GSO); false once the kernel refused it */
  gso: boolean
  /** runs of datagrams from one source come from the kernel as one (UDP GRO: asked for, and the kernel has it) */
  gro: boolean
  /** messages the kernel handed up with more than one datagram in them (cut apart in the addon) */
  groRuns: number
}

export class BatchUdpTransport implements Transport {
  private receiver: DatagramReceiver | null = null
  private readonly metaInts: number
  /** ring of send slots: [head, tail) is queued; indices grow forever, slots are index % SEND_SLOTS */
  private head = 0
  private tail = 0
  private flushScheduled = false
  private closed = false
  private ringFull = 0
  private largestBatch = 0
  private drained: (() => void)[] = []
  /** address text → its 16 bytes as four int32 (the socket's family: IPv4 mapped on a dual-stack one) */
  private readonly toWire = new Map<string, Int32Array>()
  /** IPv4 source, as the int32 of its 4 bytes → text */
  private readonly fromWire = new Map<number, string>()
  private readonly scratch = Buffer.alloc(16)
  private readonly scratchWords = new Int32Array(this.scratch.buffer, this.scratch.byteOffset, 4)
  private readonly recvAddressBytes: Buffer

  private constructor(
    private readonly native: NativeUdp,
    private readonly socket: NativeSocket,
    private readonly address: string,
    private readonly dualStack: boolean,
  ) {
    this.metaInts = native.metaInts
    const meta = socket.recvMeta
    this.recvAddressBytes = Buffer.from(meta.buffer, meta.byteOffset, meta.byteLength)
    native.start(socket.handle, this.onBatch)
  }

  /** Binds `address` ('::' is dual-stack) and `port` (0: any); throws as node:dgram would (code EADDRINUSE …). */
  static bind(native: NativeUdp, options: { address: string; port: number; gro?: boolean }): BatchUdpTransport {
    const socket = native.open(options.address, options.port, SOCKET_BUFFER_BYTES, SLOT_BYTES, SEND_SLOTS, options.gro === true)
    return new BatchUdpTransport(native, socket, options.address, options.address.includes(':'))
  }

  private readonly onBatch = (count: number, error: string | undefined): void => {
    if (count === -1) {
      this.flushNow()
      return
    }
    // a socket error other than an ICMP report or a full queue: nothing more will arrive
    if (error !== undefined) return
    if (count > this.largestBatch) this.largestBatch = count
    const { recv, recvMeta } = this.socket
    const stride = this.metaInts
    for (let i = 0; i < count; i++) {
      const m = i * stride
      const length = recvMeta[m + META.length]!
      const address = this.sourceText(m)
      const start = i * SLOT_BYTES
      // a view into the receive slots: valid until this call returns (Transport's contract)
      this.receiver?.(recv.subarray(start, start + length), address, recvMeta[m + META.port]!)
      if (this.closed) return
    }
  }

  private sourceText(m: number): string {
    const meta = this.socket.recvMeta
    if (meta[m + META.family] === 4) {
      const key = meta[m + META.address]!
      let text = this.fromWire.get(key)
      if (text === undefined) {
        if (this.fromWire.size >= MAX_CACHED_ADDRESSES) this.fromWire.clear()
        text = formatIPv4(this.recvAddressBytes, (m + META.address) * 4)
        this.fromWire.set(key, text)
      }
      return text
    }
    return formatIPv6(this.recvAddressBytes, (m + META.address) * 4)
  }

  send(buf: Buffer, offset: number, length: number, port: number, address: string): void {
    this.enqueue(buf, offset, length, port, address, 0)
  }

  sendWithTtl(buf: Buffer, offset: number, length: number, port: number, address: string, ttl: number): void {
    // udp.c sends it alone with the socket's TTL set around it: no other datagram is affected
    this.enqueue(buf, offset, length, port, address, ttl)
  }

  private enqueue(buf: Buffer, offset: number, length: number, port: number, address: string, ttl: number): void {
    if (this.closed || length > SLOT_BYTES) return
    const words = this.wireAddress(address)
    if (words === null) return // not an address this socket can reach (IPv6 on an IPv4 socket, bad text)
    if (this.tail - this.head === SEND_SLOTS) {
      this.flushNow()
      if (this.tail - this.head === SEND_SLOTS) {
        this.ringFull++
        return
      }
    }
    const slot = this.tail % SEND_SLOTS
    this.tail++
    buf.copy(this.socket.send, slot * SLOT_BYTES, offset, offset + length)
    const meta = this.socket.sendMeta
    const m = slot * this.metaInts
    meta[m + META.length] = length
    meta[m + META.port] = port
    meta[m + META.family] = this.dualStack ? 6 : 4
    meta[m + META.ttl] = ttl
    meta[m + META.address] = words[0]!
    meta[m + META.address + 1] = words[1]!
    meta[m + META.address + 2] = words[2]!
    meta[m + META.address + 3] = words[3]!
    if (!this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(this.flushNow)
    }
  }

  private wireAddress(address: string): Int32Array | null {
    let words = this.toWire.get(address)
    if (words !== undefined) return words
    const family = ipFamily(address)
    this.scratch.fill(0)
    if (family === 4 && this.dualStack) {
      this.scratch.writeUInt16BE(0xffff, 10)
      writeIPv4(address, this.scratch, 12)
    } else if (family === 4) {
      writeIPv4(address, this.scratch, 0)
    } else if (family === 6 && this.dualStack) {
      writeIPv6(address, this.scratch, 0)
    } else {
      return null
    }
    words = Int32Array.from(this.scratchWords)
    if (this.toWire.size >= MAX_CACHED_ADDRESSES) this.toWire.clear()
    this.toWire.set(address, words)
    return words
  }

  /** Hands the queued sends to the kernel; what does not fit waits for the socket to be writable. */
  private readonly flushNow = (): void => {
    this.flushScheduled = false
    while (!this.closed && this.head < this.tail) {
      const start = this.head % SEND_SLOTS
      const count = Math.min(this.tail - this.head, SEND_SLOTS - start)
      const done = this.native.send(this.socket.handle, start, count)
      this.head += done
      if (done < count) return // udp.c polls for writable and calls back with -1
    }
    if (this.head === this.tail && this.drained.length > 0) {
      const waiting = this.drained
      this.drained = []
      for (const resolve of waiting) resolve()
    }
  }

  onDatagram(receiver: DatagramReceiver): void {
    this.receiver = receiver
  }

  local(): { address: string; port: number } {
    return { address: this.address, port: this.socket.port }
  }

  pendingSends(): number {
    return 0
  }

  stats(): BatchUdpStats {
    const { truncated, sendErrors, gso, gro, groRuns } = this.native.stats(this.socket.handle)
    return { truncated, sendErrors, ringFull: this.ringFull, largestBatch: this.largestBatch, gso, gro, groRuns }
  }

  flush(): Promise<void> {
    this.flushNow()
    if (this.closed || this.head === this.tail) return Promise.resolve()
    return new Promise((resolve) => this.drained.push(resolve))
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.flushNow()
      this.closed = true
      this.native.close(this.socket.handle)
      const waiting = this.drained
      this.drained = []
      for (const resolve of waiting) resolve()
    }
    return Promise.resolve()
  }
}
