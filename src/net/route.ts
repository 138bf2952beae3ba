// How the supernode names the way a datagram came in, so that its answer goes back the same way.
// The supernode's tables address an edge by (address, port) as a Transport reports it; behind a
// MuxTransport (mux-transport.ts) that "port" is a route number, which says both the remote port
// and the way in, with nothing to look up:
//
//   route = way × 65,536 + remote port
//   way < 65,536: the index of the UDP socket (-p, in the order given); way 0 keeps the plain port,
//                 so a supernode with one UDP port sees the same numbers as before
//   way ≥ 65,536: the WebSocket connection numbered (way − 65,536); remote port = its TCP port
//
// Routes stay below 2^53 for 2^37 connections.

export const PORT_SPAN = 0x10000
/** the first way of WebSocket connections: as many UDP sockets as ports could ever be, below it */
export const WS_WAY_BASE = 0x10000

export type RouteKind = 'udp' | 'ws'

export function udpRoute(socketIndex: number, remotePort: number): number {
  return socketIndex * PORT_SPAN + remotePort
}

export function wsRoute(connection: number, remotePort: number): number {
  return (WS_WAY_BASE + connection) * PORT_SPAN + remotePort
}

/** The port the remote end sent from (UDP), or its TCP port (WebSocket). */
export function remotePortOf(route: number): number {
  return route % PORT_SPAN
}

export function isWsRoute(route: number): boolean {
  return route >= WS_WAY_BASE * PORT_SPAN
}

/** The UDP socket's index of a UDP route. */
export function socketIndexOf(route: number): number {
  return Math.floor(route / PORT_SPAN)
}

/** The connection number of a WebSocket route. */
export function connectionOf(route: number): number {
  return Math.floor(route / PORT_SPAN) - WS_WAY_BASE
}
