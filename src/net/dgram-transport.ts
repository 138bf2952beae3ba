// Transport over a real node:dgram socket. IPv6 sockets are dual-stack (they also carry IPv4 as
// ::ffff:a.b.c.d, which is normalised back to a.b.c.d here so peers compare addresses as text).
import { createSocket, type Socket } from 'node:dgram'
import type { DatagramReceiver, Transport } from './transport.js'

/** Large socket buffers keep bursts (a TAP batch of 64 frames, a relay fan-out) from being dropped. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
const DEFAULT_TTL = 64
const MAPPED_PREFIX = '::ffff:'

export interface BindOptions {
  /** address to bind; '::' (dual-stack) or '0.0.0.0' or a specific one */
  address: string
  port: number
  /**
   * The batched socket only: receive with UDP GRO (runs of datagrams from one source come up as one
   * message, cut back into datagrams in the addon). The edge's data socket asks for it.
   */
  gro?: boolean
}

/** Bound on the IPv4 → ::ffff: text cache (peers and supernodes: a handful per edge). */
const MAX_MAPPED = 4096

export class DgramTransport implements Transport {
  private receiver: DatagramReceiver | null = null
  /** a dual-stack udp6 socket refuses "1.2.3.4" (EINVAL): it needs "::ffff:1.2.3.4" */
  private readonly mapped = new Map<string, string>()

  private constructor(
    private readonly socket: Socket,
    private readonly dualStack: boolean,
  ) {
    socket.on('message', (msg, rinfo) => {
      const address = rinfo.address.startsWith(MAPPED_PREFIX) ? rinfo.address.slice(MAPPED_PREFIX.length) : rinfo.address
      this.receiver?.(msg, address, rinfo.port)
    })
    // a send that fails (no route, EPERM from a firewall) is a lost datagram, not a reason to stop
    socket.on('error', () => {})
  }

  static async bind(options: BindOptions): Promise<DgramTransport> {
    const v6 = options.address.includes(':')
    const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: false, recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES })
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err)
      socket.once('error', onError)
      socket.bind(options.port, options.address, () => {
        socket.off('error', onError)
        resolve()
      })
    })
    return new DgramTransport(socket, v6)
  }

  send(buf: Buffer, offset: number, length: number, port: number, address: string): void {
    // while a low-TTL send is on its way, the socket's TTL is low: an ordinary datagram waits
    if (this.lowTtlUntilReset) this.held.push({ buf, offset, length, port, address })
    else this.socket.send(buf, offset, length, port, this.dualStack ? this.toV6(address) : address)
  }

  private toV6(address: string): string {
    if (address.includes(':')) return address
    let v6 = this.mapped.get(address)
    if (v6 === undefined) {
      if (this.mapped.size >= MAX_MAPPED) this.mapped.clear()
      v6 = MAPPED_PREFIX + address
      this.mapped.set(address, v6)
    }
    return v6
  }

  onDatagram(receiver: DatagramReceiver): void {
    this.receiver = receiver
  }

  local(): { address: string; port: number } {
    const { address, port } = this.socket.address()
    return { address, port }
  }

  pendingSends(): number {
    return this.socket.getSendQueueCount() + this.held.length
  }

  sendWithTtl(buf: Buffer, offset: number, length: number, port: number, address: string, ttl: number): void {
    // dgram sends on a next tick, after an address lookup queued by send(). The TTL goes back to
    // the default two next ticks later: after that send (next ticks run in order) and before any
    // I/O callback could send a datagram of ours with the low TTL. (A microtask would not do: when
    // the caller is itself in a microtask, it runs before the next ticks, i.e. before the send.)
    this.socket.setTTL(ttl)
    this.socket.send(buf, offset, length, port, this.dualStack ? this.toV6(address) : address)
    if (!this.lowTtlUntilReset) {
      this.lowTtlUntilReset = true
      process.nextTick(this.resetTtlSoon)
    }
  }

  /** the TTL is low until the reset two next ticks on; ordinary sends meanwhile are held here */
  private lowTtlUntilReset = false
  private held: { buf: Buffer; offset: number; length: number; port: number; address: string }[] = []
  private readonly resetTtlSoon = (): void => process.nextTick(this.resetTtl)
  private readonly resetTtl = (): void => {
    this.lowTtlUntilReset = false
    try {
      this.socket.setTTL(DEFAULT_TTL)
    } catch {
      // closed meanwhile: nothing to reset, nothing to send
      this.held = []
      return
    }
    const held = this.held
    this.held = []
    for (const h of held) this.send(h.buf, h.offset, h.length, h.port, h.address)
  }

  async flush(): Promise<void> {
    // dgram resolves the address on the next tick, then sends or queues; give it a few turns
    for (let i = 0; i < 100; i++) {
      await new Promise((resolve) => setImmediate(resolve))
      if (this.socket.getSendQueueCount() === 0) return
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve())
      } catch {
        resolve() // already closed
      }
    })
  }
}
