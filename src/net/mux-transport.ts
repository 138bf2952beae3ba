// Every way into the supernode behind the one Transport its tables know: several UDP sockets
// (`-p 7654 -p 443`) and the WebSocket listener's connections. The "port" it reports with each
// datagram is a route (route.ts), and send() follows the route back: an edge is answered from the
// UDP socket it registered through, or on its own WebSocket connection.
import { isWsRoute, remotePortOf, socketIndexOf, udpRoute, connectionOf, wsRoute } from './route.js'
import type { DatagramReceiver, Transport } from './transport.js'
import type { WsListener } from './ws-listener.js'

/** How an endpoint reaches the supernode: UDP, a WebSocket over our TLS, or a plain one (behind a proxy). */
export type EndpointTransport = 'udp' | 'tls' | 'ws'

export class MuxTransport implements Transport {
  constructor(
    private readonly udp: readonly Transport[],
    readonly ws: WsListener | null,
  ) {
    if (udp.length === 0) throw new RangeError('a supernode needs at least one UDP socket')
  }

  onDatagram(receiver: DatagramReceiver): void {
    this.udp.forEach((socket, index) => socket.onDatagram((msg, address, port) => receiver(msg, address, udpRoute(index, port))))
    this.ws?.onDatagram((msg, address, port, id) => receiver(msg, address, wsRoute(id, port)))
  }

  send(buf: Buffer, offset: number, length: number, route: number, address: string): void {
    if (isWsRoute(route)) this.ws?.send(connectionOf(route), offset === 0 && length === buf.length ? buf : buf.subarray(offset, offset + length))
    else this.udp[socketIndexOf(route)]?.send(buf, offset, length, remotePortOf(route), address)
  }

  sendWithTtl(buf: Buffer, offset: number, length: number, route: number, address: string, ttl: number): void {
    if (isWsRoute(route)) this.send(buf, offset, length, route, address)
    else this.udp[socketIndexOf(route)]?.sendWithTtl(buf, offset, length, remotePortOf(route), address, ttl)
  }

  /** The first UDP socket's address (the supernode's main port). */
  local(): { address: string; port: number } {
    return this.udp[0]!.local()
  }

  /** Every UDP port, in the order given. */
  udpPorts(): number[] {
    return this.udp.map((socket) => socket.local().port)
  }

  /** What kind of way a route is. */
  transportOf(route: number): EndpointTransport {
    return isWsRoute(route) ? this.ws!.kind : 'udp'
  }

  /** The supernode registered an edge on this route (a WebSocket connection is then kept past its registration deadline). */
  registered(route: number): void {
    if (isWsRoute(route)) this.ws?.markRegistered(connectionOf(route))
  }

  /** The supernode forwarded an enrollment ask that came in on this route (a WebSocket connection is then kept a while longer). */
  asking(route: number): void {
    if (isWsRoute(route)) this.ws?.markAsking(connectionOf(route))
  }

  pendingSends(): number {
    // the WebSocket side copies what it queues
    return this.udp.reduce((sum, socket) => sum + socket.pendingSends(), 0)
  }

  async flush(): Promise<void> {
    await Promise.all(this.udp.map((socket) => socket.flush()))
  }

  async close(): Promise<void> {
    await this.ws?.close()
    await Promise.all(this.udp.map((socket) => socket.close()))
  }
}
