// The UDP socket as edges and supernodes see it. BatchUdpTransport is the real one (the batched
// addon), DgramTransport the fallback (node:dgram); tests put edges behind a simulated NAT with a
// Transport of their own (src/net/simulated-nat.ts).

/**
 * Called once per datagram. `msg` is valid only until the call returns (the batched socket reuses
 * its receive slots): whatever outlives the call must be copied.
 */
export type DatagramReceiver = (msg: Buffer, address: string, port: number) => void

export interface Transport {
  /**
   * Sends `length` bytes of `buf` from `offset`. The bytes must stay untouched until the send has
   * completed: see pendingSends().
   */
  send(buf: Buffer, offset: number, length: number, port: number, address: string): void
  onDatagram(receiver: DatagramReceiver): void
  /** the local address and port this transport is bound to */
  local(): { address: string; port: number }
  /**
   * Sends that still read from their caller's buffer (dgram's queue; always 0 where send()
   * copies). A sender that reuses a ring of N buffers may reuse the oldest only while this is
   * below N: sends complete in order.
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
