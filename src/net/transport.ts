// The UDP socket as edges and supernodes see it. DgramTransport is the real one (node:dgram);
// tests put edges behind a simulated NAT with a Transport of their own (test/fixtures/nat.ts).

/** Called once per datagram; `msg` is owned by the receiver (dgram allocates one per datagram). */
export type DatagramReceiver = (msg: Buffer, address: string, port: number) => void

export interface Transport {
  /** Sends `length` bytes of `buf` from `offset`. The bytes must stay untouched until canReuse() says so. */
  send(buf: Buffer, offset: number, length: number, port: number, address: string): void
  onDatagram(receiver: DatagramReceiver): void
  /** the local address and port this transport is bound to */
  local(): { address: string; port: number }
  /**
   * Sends still queued in the kernel's way (not yet handed to it). A sender that reuses a ring
   * of N buffers may reuse the oldest only while this is below N: sends complete in order.
   */
  pendingSends(): number
  /**
   * Sends one datagram with the given IP TTL / hop limit (hole punching's low-TTL probes, which
   * open our own NAT but die before the far one); datagrams sent otherwise keep the default.
   */
  sendWithTtl(buf: Buffer, offset: number, length: number, port: number, address: string, ttl: number): void
  /** Resolves once what was sent so far has been handed to the kernel (before a close, say). */
  flush(): Promise<void>
  close(): Promise<void>
}
