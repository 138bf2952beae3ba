// The supernode's WebSocket listener, for edges on networks that block UDP: node's https (TLS with
// our certificate) or http (plain, behind a reverse proxy that terminates TLS) with the `ws`
// package's framing, on one path. Each binary message is one datagram of the UDP protocol; this
// module only carries them, and bounds what a connection may cost: connections in all and per
// address, the time to finish TLS and the upgrade, the time to register, silence, a reader that
// stops reading, and the bytes waiting for one (ws-send-queue.ts). Every refusal is counted.
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { isIP, type AddressInfo, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Clock, TimerHandle } from '../time/clock.js'
import { MAX_PACKET_BYTES, PacketType } from '../wire/header.js'
import { SendQueue, type QueueDrop } from './ws-send-queue.js'

export const WS_PATH = '/overlan'
/** TCP connections (waiting for their upgrade or open) in all: each may hold WS_MEMORY_PER_CONNECTION. */
export const DEFAULT_WS_MAX_CONNECTIONS = 1024
/** per client address (an IPv6 /64 as one): a NAT with a few dozen devices behind it, not a flood */
export const DEFAULT_WS_MAX_PER_ADDRESS = 64
/** TLS handshake and HTTP upgrade together, from the TCP accept: a slowloris client is cut after this */
export const UPGRADE_WITHIN_MS = 10_000
/**
 * from the upgrade to a registration: an edge needs one round trip for HELLO and one for REGISTER.
 * A technician enrolling over the connection (no certificate yet) is kept while the supernode
 * forwards its asks: this long after the last one (it polls every second while the owner decides).
 */
export const REGISTER_WITHIN_MS = 10_000
/** what a connection may have handed to the socket and not yet sent (ws `bufferedAmount`) */
export const BUFFERED_CAP_BYTES = 64 * 1024
/** what waits behind that cap (ws-send-queue.ts): 32 full datagrams and more, a fraction of a second of relay */
export const SEND_QUEUE_BYTES = 64 * 1024
/** a sealed frame that waited longer than this is dropped: late frames only make TCP-over-TCP worse */
export const DATA_MAX_AGE_MS = 1_000
/** a client whose socket stays over BUFFERED_CAP_BYTES this long has stopped reading: cut */
export const STALLED_CUT_MS = 15_000
/** how often the deadlines above are checked (each is kept to within this much) */
export const SWEEP_MS = 1_000
/**
 * What one connection can hold at most, for the memory bound: the send queue, the socket's buffer
 * at its cap plus one datagram handed over past it, a message being received, and 64 KiB for TLS,
 * socket and ws state (an idle one measured 15.5 KiB in all: test/hostile/supernode-ws-connections.test.ts).
 */
export const WS_MEMORY_PER_CONNECTION = SEND_QUEUE_BYTES + BUFFERED_CAP_BYTES + 2 * MAX_PACKET_BYTES + 64 * 1024

export const WS_REFUSALS = [
  'total-full', // more TCP connections than maxConnections
  'address-full', // more than maxPerAddress from one client address
  'upgrade-timeout', // TLS handshake and upgrade not done within UPGRADE_WITHIN_MS (slowloris, half-open)
  'tls-error', // the TLS handshake failed
  'bad-http', // not HTTP at all (garbage bytes)
  'bad-path', // any path but WS_PATH: 404
  'not-upgrade', // a plain HTTP request on WS_PATH: 426
  'bad-upgrade', // an upgrade request that is not a valid WebSocket handshake: 400
  'browser-origin', // an upgrade with an Origin header, i.e. from a web page: 403
  'text-message', // a text message: dropped, the connection closed (1003)
  'oversized', // a message over MAX_PACKET_BYTES: the connection closed (1009)
  'protocol-error', // broken WebSocket framing: the connection closed
  'unregistered', // no registration within REGISTER_WITHIN_MS of the upgrade, or of the last enrollment ask forwarded from it
  'idle', // nothing received for idleMs
  'stalled', // bufferedAmount over BUFFERED_CAP_BYTES for STALLED_CUT_MS
  'queue-drop-data', // a sealed frame dropped from a full send queue (oldest first)
  'queue-drop-control', // a control packet dropped: the queue was full of control packets
  'stale-data', // a sealed frame that waited over DATA_MAX_AGE_MS
  'closed', // a datagram for a connection that is gone
] as const
export type WsRefusal = (typeof WS_REFUSALS)[number]

export interface WsListenerConfig {
  port: number
  /** address to bind; undefined: every address */
  bindAddress?: string
  /** a certificate and key (PEM): TLS; null: plain, for a reverse proxy that terminates TLS */
  tls: { cert: Buffer; key: Buffer } | null
  /** take the client address from X-Forwarded-For (its last entry) or X-Real-IP: only behind a proxy that sets them */
  trustProxy: boolean
  maxConnections: number
  maxPerAddress: number
  /** nothing received for this long: closed (the supernode gives its edge-expiry time) */
  idleMs: number
  /** the key a client address is counted under (the supernode's: an IPv6 /64 as one) */
  addressKey: (address: string) => string
}

/** One datagram from connection `id`, sent by `address` (the client's, see trustProxy) from TCP port `port`. */
export type WsReceiver = (msg: Buffer, address: string, port: number, id: number) => void

interface Pending {
  socket: Socket
  /** the key it is counted under per address, or null when that is known only at the upgrade (trustProxy) */
  addressKey: string | null
  acceptedAt: number
  upgraded: boolean
}

interface Connection {
  id: number
  ws: WebSocket
  socket: Duplex
  addressKey: string
  queue: SendQueue
  openedAt: number
  lastHeard: number
  registered: boolean
  /** when the supernode last forwarded an enrollment ask from it (0: never) */
  askedAt: number
  stalledSince: number | null
  pumpScheduled: boolean
}

export class WsListener {
  readonly refusals = Object.fromEntries(WS_REFUSALS.map((r) => [r, 0])) as Record<WsRefusal, number>
  /** connections upgraded since start */
  accepted = 0
  private receiver: WsReceiver | null = null
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PACKET_BYTES, perMessageDeflate: false, clientTracking: false, skipUTF8Validation: true })
  /** TCP connections by "address:port" until their upgrade or close */
  private readonly pending = new Map<string, Pending>()
  private readonly open = new Map<number, Connection>()
  private readonly perAddress = new Map<string, number>()
  private tcpConnections = 0
  private nextId = 0
  private sweeper: TimerHandle | null = null
  private readonly queueDropped = (reason: QueueDrop): void => void this.refusals[reason]++

  private constructor(
    private readonly server: Server,
    readonly config: WsListenerConfig,
    private readonly clock: Clock,
  ) {
    server.on('connection', (socket: Socket) => this.onTcp(socket))
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head))
    server.on('request', (req, res) => {
      const onPath = pathOf(req.url) === WS_PATH
      this.refusals[onPath ? 'not-upgrade' : 'bad-path']++
      res.shouldKeepAlive = false
      res.writeHead(onPath ? 426 : 404, { 'content-type': 'text/plain', connection: 'close', ...(onPath ? { upgrade: 'websocket' } : {}) })
      res.end(onPath ? 'overlan: a WebSocket endpoint (Upgrade: websocket)\n' : 'not found\n')
    })
    server.on('clientError', (_err, socket: Duplex) => {
      this.refusals['bad-http']++
      socket.destroy()
    })
    server.on('tlsClientError', (_err, socket: Duplex) => {
      this.refusals['tls-error']++
      socket.destroy()
    })
    this.wss.on('wsClientError', (_err: Error, socket: Duplex) => {
      this.refusals['bad-upgrade']++
      refuseUpgrade(socket, 400)
    })
    this.sweeper = clock.every(SWEEP_MS, () => this.sweep())
  }

  static async start(config: WsListenerConfig, clock: Clock): Promise<WsListener> {
    // node's own timeouts are a backstop behind UPGRADE_WITHIN_MS (which the sweep enforces on the
    // injected clock); the TLS handshake's runs on its own
    const options = { headersTimeout: UPGRADE_WITHIN_MS + 5_000, requestTimeout: UPGRADE_WITHIN_MS + 5_000, keepAliveTimeout: 1_000 }
    const server = config.tls === null ? createHttpServer(options) : createHttpsServer({ ...options, cert: config.tls.cert, key: config.tls.key, handshakeTimeout: UPGRADE_WITHIN_MS + 5_000 })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ port: config.port, host: config.bindAddress }, () => {
        server.off('error', reject)
        resolve()
      })
    })
    return new WsListener(server, config, clock)
  }

  get kind(): 'tls' | 'ws' {
    return this.config.tls === null ? 'ws' : 'tls'
  }

  local(): { address: string; port: number } {
    const info = this.server.address() as AddressInfo
    return { address: info.address, port: info.port }
  }

  onDatagram(receiver: WsReceiver): void {
    this.receiver = receiver
  }

  /** Open WebSocket connections, TCP connections still before their upgrade, and the bytes waiting on all of them (queues, and handed to the sockets). */
  counts(): { open: number; pending: number; queuedBytes: number; bufferedBytes: number } {
    let queuedBytes = 0
    let bufferedBytes = 0
    for (const conn of this.open.values()) {
      queuedBytes += conn.queue.queuedBytes
      bufferedBytes += conn.ws.bufferedAmount
    }
    return { open: this.open.size, pending: this.pending.size, queuedBytes, bufferedBytes }
  }

  /** Sends one datagram on connection `id` (a copy is queued); `isData`: a sealed frame, dropped first when the client reads slowly. */
  send(id: number, buf: Buffer): void {
    const conn = this.open.get(id)
    if (conn === undefined) {
      this.refusals.closed++
      return
    }
    if (!conn.pumpScheduled) {
      // one write for everything sent to this connection in this turn (the relay sends in bursts):
      // corked until the pump at the end of the turn
      conn.pumpScheduled = true
      ;(conn.socket as Socket).cork?.()
      queueMicrotask(() => this.pump(conn))
    }
    // straight to the socket while it has room and nothing waits (ws does not copy: the caller's
    // buffer may be a reused receive slot); the queue only when the client is behind
    if (conn.queue.length === 0 && conn.ws.bufferedAmount < BUFFERED_CAP_BYTES) conn.ws.send(Buffer.from(buf))
    else conn.queue.push(buf, buf[1] === PacketType.Relay, this.clock.now())
  }

  /**
   * The supernode forwarded an enrollment ask from connection `id` (its cookie, rate limits and the
   * device checked): it is not cut as 'unregistered' within REGISTER_WITHIN_MS of this ask.
   */
  markAsking(id: number): void {
    const conn = this.open.get(id)
    if (conn !== undefined) conn.askedAt = this.clock.now()
  }

  /** The supernode registered an edge on connection `id`: it is no longer cut as 'unregistered'. */
  markRegistered(id: number): void {
    const conn = this.open.get(id)
    if (conn !== undefined) conn.registered = true
  }

  async close(): Promise<void> {
    this.sweeper?.cancel()
    this.sweeper = null
    for (const conn of this.open.values()) conn.ws.terminate()
    for (const p of this.pending.values()) p.socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  // ---- accepting ---------------------------------------------------------------------------

  private onTcp(socket: Socket): void {
    const address = plainAddress(socket.remoteAddress ?? '')
    if (this.tcpConnections >= this.config.maxConnections) {
      this.refusals['total-full']++
      socket.destroy()
      return
    }
    // behind a proxy every connection comes from the proxy: the client's address is known at the upgrade
    const addressKey = this.config.trustProxy ? null : this.config.addressKey(address)
    if (addressKey !== null && !this.acquire(addressKey)) {
      socket.destroy()
      return
    }
    this.tcpConnections++
    const key = `${socket.remoteAddress}:${socket.remotePort}`
    const entry: Pending = { socket, addressKey, acceptedAt: this.clock.now(), upgraded: false }
    this.pending.set(key, entry)
    socket.once('close', () => {
      this.tcpConnections--
      if (this.pending.get(key) === entry) this.pending.delete(key)
      if (addressKey !== null) this.release(addressKey)
    })
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const tcp = req.socket
    const entry = this.pending.get(`${tcp.remoteAddress}:${tcp.remotePort}`)
    if (pathOf(req.url) !== WS_PATH) {
      this.refusals['bad-path']++
      return refuseUpgrade(socket, 404)
    }
    // Browsers send Origin with every WebSocket and let any page open one to any host, loopback
    // included (no same-origin rule for WebSocket); edges never send it. So a page in the device's
    // browser cannot use up the connection slots of the assistance service's embedded supernode.
    if (req.headers.origin !== undefined) {
      this.refusals['browser-origin']++
      return refuseUpgrade(socket, 403)
    }
    const address = this.clientAddress(req)
    let addressKey = entry?.addressKey ?? null
    if (addressKey === null) {
      // trustProxy: counted now, under the forwarded address, for as long as the WebSocket lives
      addressKey = this.config.addressKey(address)
      if (!this.acquire(addressKey)) return refuseUpgrade(socket, 503)
      socket.once('close', () => this.release(addressKey!))
    }
    if (entry !== undefined) {
      entry.upgraded = true
      this.pending.delete(`${tcp.remoteAddress}:${tcp.remotePort}`)
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(ws, socket, address, tcp.remotePort ?? 0, addressKey))
  }

  private onOpen(ws: WebSocket, socket: Duplex, address: string, port: number, addressKey: string): void {
    const now = this.clock.now()
    const id = this.nextId++
    const conn: Connection = {
      id,
      ws,
      socket,
      addressKey,
      queue: new SendQueue({ queueBytes: SEND_QUEUE_BYTES, dataMaxAgeMs: DATA_MAX_AGE_MS }, this.queueDropped),
      openedAt: now,
      lastHeard: now,
      registered: false,
      askedAt: 0,
      stalledSince: null,
      pumpScheduled: false,
    }
    this.accepted++
    this.open.set(id, conn)
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        // the protocol is binary: a text message is a client that is not an overlan edge
        this.refusals['text-message']++
        ws.close(1003, 'binary messages only')
        return
      }
      conn.lastHeard = this.clock.now()
      this.receiver?.(data, address, port, id)
    })
    ws.on('error', (err: Error & { code?: string }) => {
      // ws has closed (or is closing) the connection with the matching status: count why
      this.refusals[err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'oversized' : 'protocol-error']++
    })
    ws.on('close', () => {
      conn.queue.clear()
      this.open.delete(id)
    })
    socket.on('drain', () => this.pump(conn))
  }

  // ---- sending -----------------------------------------------------------------------------

  /** Hands the socket what waits, control first, while it holds less than BUFFERED_CAP_BYTES. */
  private pump(conn: Connection): void {
    const socket = conn.socket as Socket
    if (conn.pumpScheduled) {
      conn.pumpScheduled = false
      socket.uncork?.()
    }
    if (conn.ws.readyState !== conn.ws.OPEN) return
    const now = this.clock.now()
    while (conn.ws.bufferedAmount < BUFFERED_CAP_BYTES) {
      const next = conn.queue.shift(now)
      if (next === null) break
      conn.ws.send(next)
    }
    conn.stalledSince = conn.ws.bufferedAmount >= BUFFERED_CAP_BYTES ? (conn.stalledSince ?? now) : null
  }

  // ---- deadlines ---------------------------------------------------------------------------

  private sweep(): void {
    const now = this.clock.now()
    for (const p of this.pending.values()) {
      if (!p.upgraded && now - p.acceptedAt > UPGRADE_WITHIN_MS) {
        this.refusals['upgrade-timeout']++
        p.socket.destroy()
      }
    }
    for (const conn of this.open.values()) {
      const reason = this.cutReason(conn, now)
      if (reason === null) continue
      this.refusals[reason]++
      this.open.delete(conn.id)
      conn.queue.clear()
      conn.ws.terminate()
    }
  }

  private cutReason(conn: Connection, now: number): WsRefusal | null {
    if (conn.ws.bufferedAmount < BUFFERED_CAP_BYTES) conn.stalledSince = null
    if (conn.stalledSince !== null && now - conn.stalledSince > STALLED_CUT_MS) return 'stalled'
    if (!conn.registered && now - Math.max(conn.openedAt, conn.askedAt) > REGISTER_WITHIN_MS) return 'unregistered'
    if (now - conn.lastHeard > this.config.idleMs) return 'idle'
    return null
  }

  // ---- addresses ---------------------------------------------------------------------------

  /** The client's address: the TCP peer's, or with trustProxy what the proxy says it is. */
  private clientAddress(req: IncomingMessage): string {
    const peer = plainAddress(req.socket.remoteAddress ?? '')
    if (!this.config.trustProxy) return peer
    // the proxy appends the address it saw: the last entry is the only one it vouches for
    const forwarded = [req.headers['x-forwarded-for'] ?? []].flat().join(',').split(',').pop()?.trim()
    const realIp = req.headers['x-real-ip']
    const named = forwarded || (typeof realIp === 'string' ? realIp.trim() : '')
    return isIP(named) === 0 ? peer : plainAddress(named)
  }

  private acquire(key: string): boolean {
    const count = this.perAddress.get(key) ?? 0
    if (count >= this.config.maxPerAddress) {
      this.refusals['address-full']++
      return false
    }
    this.perAddress.set(key, count + 1)
    return true
  }

  private release(key: string): void {
    const left = (this.perAddress.get(key) ?? 1) - 1
    if (left <= 0) this.perAddress.delete(key)
    else this.perAddress.set(key, left)
  }
}

/** An IPv4 client of a dual-stack listener, as "1.2.3.4" (what the UDP side reports) instead of "::ffff:1.2.3.4". */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address
}

function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?')[0]!
}

const STATUS_TEXT = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' } as const

function refuseUpgrade(socket: Duplex, status: keyof typeof STATUS_TEXT): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`, () => socket.destroy())
}
