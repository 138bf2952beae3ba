// A technician's `--socks5 ADDR:PORT`: SOCKS5 CONNECT to the device, by its overlay address or a
// name the session gives it (device.overlan), becomes a stream (hub.ts). Everything else is
// refused with the reply code RFC 1928 has for it: another host is "not allowed by ruleset",
// BIND and UDP ASSOCIATE are "command not supported", IPv6 is "address type not supported".
import { createServer, type Server, type Socket } from 'node:net'
import type { HostPort } from '../../net/address.js'
import type { Clock } from '../../time/clock.js'
import {
  SOCKS_NO_ACCEPTABLE_METHOD,
  SOCKS_NO_AUTH,
  SocksCommand,
  SocksReply,
  encodeSocksMethod,
  encodeSocksReply,
  readSocksGreeting,
  readSocksRequest,
  type SocksRequest,
} from '../../wire/socks5.js'
import type { StreamRefusal } from '../../wire/stream.js'
import { listen } from './forward.js'
import type { StreamHub } from './hub.js'

/** A greeting and a request fit in this (a 255-byte name and 255 methods); more is not SOCKS5. */
const MAX_HANDSHAKE_BYTES = 600
/** A client that has not sent its request by then is closed (it holds a socket, nothing more). */
const HANDSHAKE_TIMEOUT_MS = 10_000

/** The reply a refused stream gets. */
export const REPLY_FOR: Record<StreamRefusal, SocksReply> = {
  'port-not-allowed': SocksReply.NotAllowed,
  'not-a-member': SocksReply.NotAllowed,
  'connection-refused': SocksReply.ConnectionRefused,
  unreachable: SocksReply.HostUnreachable,
  'no-service': SocksReply.GeneralFailure,
  'too-many-streams': SocksReply.GeneralFailure,
  closed: SocksReply.GeneralFailure,
  protocol: SocksReply.GeneralFailure,
  unspecified: SocksReply.GeneralFailure,
}

export interface Socks5Options {
  /** what a CONNECT may name, lower-case: the device's overlay address and its names, each → the overlay address */
  targets: ReadonlyMap<string, string>
  /** for the handshake's time limit */
  clock: Clock
}

export async function listenSocks5(hub: StreamHub, at: HostPort, options: Socks5Options): Promise<{ server: Server; address: HostPort }> {
  const server = createServer({ allowHalfOpen: true }, (socket) => handshake(hub, socket, options))
  await listen(server, at, '--socks5')
  const bound = server.address() as { port: number }
  return { server, address: { host: at.host, port: bound.port } }
}

/** Greeting, method, request: then the stream, or a reply code and the end. */
function handshake(hub: StreamHub, socket: Socket, options: Socks5Options): void {
  let buffered = Buffer.alloc(0)
  let stage: 'greeting' | 'request' = 'greeting'
  const timer = options.clock.after(HANDSHAKE_TIMEOUT_MS, () => socket.destroy())
  const fail = (reply: SocksReply | null): void => {
    timer.cancel()
    socket.off('data', onData)
    if (reply === null) socket.destroy()
    else socket.end(encodeSocksReply(reply))
  }
  const onData = (data: Buffer): void => {
    buffered = Buffer.concat([buffered, data])
    if (buffered.length > MAX_HANDSHAKE_BYTES) return fail(null)
    if (stage === 'greeting') {
      const greeting = readSocksGreeting(buffered)
      if (greeting.ok === 'more') return
      if (greeting.ok === false) return fail(null)
      buffered = buffered.subarray(greeting.used)
      if (!greeting.value.methods.includes(SOCKS_NO_AUTH)) {
        timer.cancel()
        socket.off('data', onData)
        socket.end(encodeSocksMethod(SOCKS_NO_ACCEPTABLE_METHOD))
        return
      }
      socket.write(encodeSocksMethod(SOCKS_NO_AUTH))
      stage = 'request'
    }
    const request = readSocksRequest(buffered)
    if (request.ok === 'more') return
    if (request.ok === false) return fail(request.reason === 'bad-address-type' ? SocksReply.AddressTypeNotSupported : SocksReply.GeneralFailure)
    const refusal = refuse(request.value, options)
    if (refusal !== null) return fail(refusal)
    timer.cancel()
    socket.off('data', onData)
    socket.pause()
    // what the client sent after its request (an eager TLS hello) belongs to the stream
    const rest = buffered.subarray(request.used)
    if (rest.length > 0) socket.unshift(rest)
    const device = options.targets.get(request.value.host.toLowerCase())!
    hub.open(device, request.value.port, socket, () => socket.write(encodeSocksReply(SocksReply.Succeeded))).then(
      (streamRefusal) => {
        if (streamRefusal !== null) socket.end(encodeSocksReply(REPLY_FOR[streamRefusal]))
      },
      () => socket.destroy(),
    )
  }
  socket.on('data', onData)
  socket.on('error', () => timer.cancel())
}

/** The reply for a request this listener will not carry, or null. */
function refuse(request: SocksRequest, options: Socks5Options): SocksReply | null {
  if (request.command !== SocksCommand.Connect) return SocksReply.CommandNotSupported
  if (request.kind === 'ipv6') return SocksReply.AddressTypeNotSupported
  if (!options.targets.has(request.host.toLowerCase())) return SocksReply.NotAllowed
  return null
}
