// An in-process NAT for tests: hosts behind it get a Transport whose datagrams leave through real
// loopback UDP sockets (the NAT's public ports), mapped as a port-restricted cone NAT (one public
// port per private endpoint) or a symmetric NAT (one per private endpoint and destination). Inbound
// datagrams pass only from endpoints the private side has sent to. Destinations that are not
// loopback are dropped ("unreachable"): tests never send anywhere else.
import { createSocket, type Socket } from 'node:dgram'
import type { DatagramReceiver, Transport } from './transport.js'

export type NatKind = 'cone' | 'symmetric'

interface Mapping {
  /** resolves once the public port is bound; sends wait for it, in order */
  ready: Promise<Socket | null>
  socket: Socket | null
  publicPort: number
  /** "address:port" of every destination this mapping has sent to */
  allowed: Set<string>
  host: NattedTransport
}

export class SimulatedNat {
  readonly dropped = { unsolicited: 0, unreachable: 0, blocked: 0 }
  /** mappings made since the start (public ports handed out), closed ones included */
  mappingsCreated = 0
  private readonly mappings = new Map<string, Mapping>()
  /** when set, datagrams for which it returns true are dropped in either direction (a cut path) */
  block: ((address: string, port: number) => boolean) | null = null

  /**
   * @param portWindow public ports to hand out (random within it), like a NAT's port range; by
   *   default whatever the OS gives. A window above the OS's ephemeral range (61000-65535 on Linux)
   *   lets a test spray it without touching other programs' sockets.
   */
  constructor(
    readonly kind: NatKind,
    readonly publicAddress = '127.0.0.1',
    readonly portWindow: { from: number; to: number } | null = null,
    /** keep the private port as the public one when it is free, as Linux MASQUERADE does */
    readonly preservePorts = false,
  ) {}

  /** A transport for a host at privateAddress:privatePort behind this NAT. */
  attach(privateAddress: string, privatePort: number): NattedTransport {
    return new NattedTransport(this, privateAddress, privatePort)
  }

  /** The private port of the host behind a public port of this NAT (null: no mapping there): which socket a peer reaches. */
  privatePortBehind(publicPort: number): number | null {
    for (const mapping of this.mappings.values()) if (mapping.publicPort === publicPort) return mapping.host.privatePort
    return null
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
    // copy: the caller reuses its buffer, and this send may wait for the port to be bound
    const copy = Buffer.from(buf.subarray(offset, offset + length))
    if (mapping.socket !== null) mapping.socket.send(copy, port, address)
    else void mapping.ready.then((socket) => socket?.send(copy, port, address))
  }

  /**
   * Forgets every mapping, as `conntrack -F` does on a Linux router: each host's next datagram out
   * gets a new public port, and what still arrives at an old one is lost.
   */
  async forgetMappings(): Promise<void> {
    const forgotten = [...this.mappings.values()]
    this.mappings.clear()
    await Promise.all(
      forgotten.map(async (m) => {
        const socket = await m.ready
        if (socket !== null) await new Promise<void>((resolve) => socket.close(() => resolve()))
      }),
    )
  }

  pendingSends(host: NattedTransport): number {
    let total = 0
    for (const m of this.mappings.values()) if (m.host === host && m.socket !== null) total += m.socket.getSendQueueCount()
    return total
  }

  async flush(host: NattedTransport): Promise<void> {
    await Promise.allSettled([...this.mappings.values()].filter((m) => m.host === host).map((m) => m.ready))
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
      if (m.socket !== null) closing.push(new Promise((resolve) => m.socket!.close(() => resolve())))
    }
    await Promise.all(closing)
  }

  private open(host: NattedTransport): Mapping {
    this.mappingsCreated++
    const mapping: Mapping = { ready: Promise.resolve(null), socket: null, publicPort: 0, allowed: new Set(), host }
    mapping.ready = this.bindPublic(this.preservePorts ? host.privatePort : 0).then(
      (socket) => {
        mapping.socket = socket
        mapping.publicPort = socket.address().port
        socket.on('error', () => {})
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
        return socket
      },
      () => null,
    )
    return mapping
  }

  /** A socket bound to a public port: `preferred` if free, else any (no window) or a random free one in the window. */
  private async bindPublic(preferred: number): Promise<Socket> {
    const window = this.portWindow
    for (let attempt = 0; ; attempt++) {
      const random = window === null ? 0 : window.from + Math.floor(Math.random() * (window.to - window.from + 1))
      const port = attempt === 0 && preferred !== 0 ? preferred : random
      // a dgram socket whose bind failed cannot be bound again: a fresh one per attempt
      const socket = createSocket('udp4')
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject)
          socket.bind(port, this.publicAddress, () => {
            socket.off('error', reject)
            resolve()
          })
        })
        return socket
      } catch (err) {
        try {
          socket.close()
        } catch {
          // a failed bind may already have closed it
        }
        if (window === null || attempt >= 100) throw err
      }
    }
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
