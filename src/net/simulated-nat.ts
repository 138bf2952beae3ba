// An in-process NAT for tests: hosts behind it get a Transport whose datagrams leave through real
// loopback UDP sockets (the NAT's public ports), mapped as a port-restricted cone NAT (one public
// port per private endpoint) or a symmetric NAT (one per private endpoint and destination). Inbound
// datagrams pass only from endpoints the private side has sent to. Destinations that are not
// loopback are dropped ("unreachable"): tests never send anywhere else.
import { createSocket, type Socket } from 'node:dgram'
import type { DatagramReceiver, Transport } from './transport.js'

export type NatKind = 'cone' | 'symmetric'

interface Mapping {
  socket: Socket
  publicPort: number
  /** "address:port" of every destination this mapping has sent to */
  allowed: Set<string>
  host: NattedTransport
}

export class SimulatedNat {
  readonly dropped = { unsolicited: 0, unreachable: 0, blocked: 0 }
  private readonly mappings = new Map<string, Mapping>()
  private readonly pending: Promise<unknown>[] = []
  /** when set, datagrams for which it returns true are dropped in either direction (a cut path) */
  block: ((address: string, port: number) => boolean) | null = null

  constructor(
    readonly kind: NatKind,
    readonly publicAddress = '127.0.0.1',
  ) {}

  /** A transport for a host at privateAddress:privatePort behind this NAT. */
  attach(privateAddress: string, privatePort: number): NattedTransport {
    return new NattedTransport(this, privateAddress, privatePort)
  }

  /** Public ports in use: one per mapping. */
  get mappingCount(): number {
    return this.mappings.size
  }

  send(host: NattedTransport, buf: Buffer, offset: number, length: number, port: number, address: string): void {
    if (!address.startsWith('127.')) {
      this.dropped.unreachable++
      return
    }
    if (this.block?.(address, port)) {
      this.dropped.blocked++
      return
    }
    const key = this.kind === 'cone' ? host.privateKey : `${host.privateKey}>${address}:${port}`
    let mapping = this.mappings.get(key)
    if (mapping === undefined) {
      mapping = this.open(host)
      this.mappings.set(key, mapping)
    }
    mapping.allowed.add(`${address}:${port}`)
    // copy: the caller may reuse its buffer before a not-yet-bound socket sends
    mapping.socket.send(Buffer.from(buf.subarray(offset, offset + length)), port, address)
  }

  pendingSends(host: NattedTransport): number {
    let total = 0
    for (const m of this.mappings.values()) if (m.host === host && m.publicPort !== 0) total += m.socket.getSendQueueCount()
    return total
  }

  async flush(host: NattedTransport): Promise<void> {
    await Promise.allSettled(this.pending)
    for (let i = 0; i < 100; i++) {
      await new Promise((resolve) => setImmediate(resolve))
      if (this.pendingSends(host) === 0) return
    }
  }

  async closeHost(host: NattedTransport): Promise<void> {
    await this.flush(host)
    const closing: Promise<void>[] = []
    for (const [key, m] of this.mappings) {
      if (m.host !== host) continue
      this.mappings.delete(key)
      closing.push(new Promise((resolve) => m.socket.close(() => resolve())))
    }
    await Promise.all(closing)
  }

  private open(host: NattedTransport): Mapping {
    const socket = createSocket('udp4')
    const mapping: Mapping = { socket, publicPort: 0, allowed: new Set(), host }
    socket.on('error', () => {})
    this.pending.push(
      new Promise<void>((resolve) =>
        socket.bind(0, this.publicAddress, () => {
          mapping.publicPort = socket.address().port
          resolve()
        }),
      ),
    )
    socket.on('message', (msg, rinfo) => {
      if (this.block?.(rinfo.address, rinfo.port)) {
        this.dropped.blocked++
        return
      }
      // port-restricted: only from an address:port this mapping has sent to
      if (!mapping.allowed.has(`${rinfo.address}:${rinfo.port}`)) {
        this.dropped.unsolicited++
        return
      }
      host.deliver(msg, rinfo.address, rinfo.port)
    })
    return mapping
  }
}

export class NattedTransport implements Transport {
  readonly privateKey: string
  private receiver: DatagramReceiver | null = null

  constructor(
    private readonly nat: SimulatedNat,
    readonly privateAddress: string,
    readonly privatePort: number,
  ) {
    this.privateKey = `${privateAddress}:${privatePort}`
  }

  send(buf: Buffer, offset: number, length: number, port: number, address: string): void {
    this.nat.send(this, buf, offset, length, port, address)
  }

  deliver(msg: Buffer, address: string, port: number): void {
    this.receiver?.(msg, address, port)
  }

  onDatagram(receiver: DatagramReceiver): void {
    this.receiver = receiver
  }

  local(): { address: string; port: number } {
    return { address: this.privateAddress, port: this.privatePort }
  }

  pendingSends(): number {
    return this.nat.pendingSends(this)
  }

  /** The simulation has no routers to count hops: a low-TTL probe travels like any other. */
  sendWithTtl(buf: Buffer, offset: number, length: number, port: number, address: string): void {
    this.send(buf, offset, length, port, address)
  }

  flush(): Promise<void> {
    return this.nat.flush(this)
  }

  close(): Promise<void> {
    this.receiver = null
    return this.nat.closeHost(this)
  }
}
