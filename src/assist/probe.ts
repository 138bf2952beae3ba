// The connection test: does a supernode answer over UDP, how fast, and which public address does
// it see for us? One HELLO from a fresh socket, answered by a COOKIE (no key involved).
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { lookup } from 'node:dns/promises'
import { formatHostPort, type HostPort } from '../net/address.js'
import { PacketType, decodePacket, encodeHello } from '../wire/index.js'

export const PROBE_TIMEOUT_MS = 2_000
const ATTEMPTS = 3

export interface SupernodeProbe {
  address: string
  reachable: boolean
  rttMs: number | null
  publicEndpoint: string | null
  error?: string
}

export async function probeSupernode(target: HostPort, timeoutMs = PROBE_TIMEOUT_MS): Promise<SupernodeProbe> {
  const address = formatHostPort(target)
  let ip: string
  let family: number
  try {
    ;({ address: ip, family } = await lookup(target.host))
  } catch {
    return { address, reachable: false, rttMs: null, publicEndpoint: null, error: `cannot resolve ${target.host}` }
  }
  const socket = createSocket(family === 6 ? 'udp6' : 'udp4')
  socket.on('error', () => {})
  const nonce = randomBytes(8)
  try {
    return await new Promise<SupernodeProbe>((resolve) => {
      const started = Date.now()
      let sent = 0
      const send = (): void => {
        sent++
        socket.send(encodeHello(nonce), target.port, ip)
      }
      // a datagram can be lost: send again a few times within the timeout
      const retry = setInterval(() => (sent < ATTEMPTS ? send() : undefined), Math.floor(timeoutMs / ATTEMPTS))
      const timer = setTimeout(() => {
        clearInterval(retry)
        resolve({ address, reachable: false, rttMs: null, publicEndpoint: null, error: `no answer within ${timeoutMs} ms` })
      }, timeoutMs)
      socket.on('message', (msg, rinfo) => {
        if (rinfo.port !== target.port) return
        const decoded = decodePacket(msg)
        if (!decoded.ok || decoded.value.type !== PacketType.Cookie || !decoded.value.clientNonce.equals(nonce)) return
        clearTimeout(timer)
        clearInterval(retry)
        const seen = decoded.value.reflexive
        resolve({ address, reachable: true, rttMs: Date.now() - started, publicEndpoint: formatHostPort({ host: seen.address, port: seen.port }) })
      })
      socket.bind(0, () => send())
    })
  } finally {
    socket.close()
  }
}
