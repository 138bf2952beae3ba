// Opens the UDP socket edges and supernodes use: the batched addon where it was built (Linux,
// `npm ci`), node:dgram otherwise. Both throw node's errors (code EADDRINUSE, EACCES …) on bind.
import { BatchUdpTransport, loadUdpAddon } from './batch-udp-transport.js'
import { DgramTransport, type BindOptions } from './dgram-transport.js'
import type { Transport } from './transport.js'

export type SocketKind = 'batch' | 'dgram'

export async function bindUdp(options: BindOptions, kind: SocketKind = 'batch'): Promise<Transport> {
  const native = kind === 'batch' ? loadUdpAddon() : null
  if (native === null) return DgramTransport.bind(options)
  return BatchUdpTransport.bind(native, options)
}

/** Binds dual-stack on '::' when the host has IPv6, else on 0.0.0.0 (or the given address). */
export async function bindUdpAny(port: number, address?: string, kind: SocketKind = 'batch'): Promise<Transport> {
  if (address !== undefined) return bindUdp({ address, port }, kind)
  try {
    return await bindUdp({ address: '::', port }, kind)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT' && (err as NodeJS.ErrnoException).code !== 'EADDRNOTAVAIL') throw err
    return bindUdp({ address: '0.0.0.0', port }, kind)
  }
}
