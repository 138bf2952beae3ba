// An edge's userspace streams (issue 16): one SCTP association per peer (association.ts), one
// SCTP stream per TCP connection (pipe.ts). A technician's edge opens streams to the device's
// overlay address (forward.ts, socks5.ts call open()); a device's edge accepts them by its rules
// (only members and technicians, only ports its --allow lists) and connects to its own overlay
// address. Every stream is logged and told to listeners ('stream' events) for the audit.
// Streams end with their peer: revoked, expired, gone, or the edge stopping.
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { formatFingerprint } from '../../crypto/identity.js'
import type { Logger } from '../../log/logger.js'
import type { Clock, TimerHandle } from '../../time/clock.js'
import { formatEdgeId } from '../../wire/index.js'
import { SCTP_PACKET_REASONS, STREAM_CODEC_REASONS, STREAM_REFUSALS, StreamMessageType, checkSctpPacket, decodeStreamMessage, encodeStreamMessage, isSctpInit, type SctpPacketReason, type StreamCodecReason, type StreamMessage, type StreamRefusal } from '../../wire/stream.js'
import type { AllowRules } from '../allow-filter.js'
import type { Peer } from '../peers.js'
import { PeerAssociation } from './association.js'
import { StreamPipe, type PipeOwner } from './pipe.js'

/** A technician waits this long for the device's peer, its session, the association and the device's answer. */
export const OPEN_TIMEOUT_MS = 20_000
/** The device gives its own service this long to accept the connection. */
export const CONNECT_TIMEOUT_MS = 10_000
/** How often a technician's open looks again for the device's peer and session. */
const OPEN_POLL_MS = 50
/** At most one peer query a second per device address while a technician waits for it. */
const QUERY_GAP_MS = 1_000
/** One peer holds at most this many streams open on a device (ssh, scp and a browser's dozen connections fit). */
export const MAX_STREAMS_PER_PEER = 256
/** SCTP stream IDs a technician uses: 1..65534 (werift negotiates 65535 streams each way). */
const MAX_STREAM_ID = 65534

/** Certificate roles whose holders may open streams on a device (C5: a device's may not). */
const STREAM_ROLES: ReadonlySet<string> = new Set(['technician', 'member'])

/** Who a stream belongs to, as the audit shows it (from the peer's certificate). */
export interface StreamPeerInfo {
  edgeId: string
  name: string
  fingerprint: string
  role: string
  ip: string | null
}

/** One event of one stream, for logs, /status and the assistance service's audit. */
export interface StreamEvent {
  event: 'opened' | 'refused' | 'closed'
  /** the SCTP stream ID, unique per peer while the stream lasts */
  id: number
  /** 'in': the peer opened it to this edge (a device); 'out': this edge opened it (a technician) */
  direction: 'in' | 'out'
  peer: StreamPeerInfo
  port: number
  /** refused: why; closed: null when both sides ended cleanly, else the reset's reason */
  reason: StreamRefusal | null
  bytesFromPeer: number
  bytesToPeer: number
  durationMs: number
}

/** One stream open now, as /status lists it. */
export interface ActiveStream {
  /** the peer's edge ID */
  peer: string
  id: number
  /** 'in': the peer opened it to this edge; 'out': this edge opened it to the peer */
  direction: 'in' | 'out'
  port: number
  bytesFromPeer: number
  bytesToPeer: number
  ageMs: number
}

export interface StreamHubEvents {
  stream: [event: StreamEvent]
}

/** The device side: where accepted streams connect, and which ports may be asked for. */
export interface StreamAcceptor {
  /** --allow: only its TCP ports (null: every port) */
  allow: AllowRules | null
  /** a TCP connection to this host's service on `port` (the edge connects to its own overlay address); null: none can be made (no address yet) */
  connect(port: number): Socket | null
}

export interface StreamHubOptions {
  clock: Clock
  log: Logger
  /** an SCTP packet to the peer, sealed as SESSION_DATA kind 4 (direct or relayed) */
  send(peer: Peer, packet: Buffer): void
  /** the peer whose certificate holds this IPv4 overlay address */
  peerByAddress(ipv4: string): Peer | undefined
  /** asks the supernodes for the member that holds this IPv4 overlay address */
  query(ipv4: string): void
  /** null: this edge accepts no streams (a userspace edge has no service to connect to) */
  acceptor: StreamAcceptor | null
}

export interface StreamCounters {
  opened: number
  closed: number
  refused: Record<StreamRefusal, number>
  /** stream messages and SCTP packets dropped, by reason */
  drops: Record<StreamCodecReason | SctpPacketReason | 'sctp-refused' | 'unknown-stream' | 'role-conflict' | 'no-association', number>
  bytesFromPeers: number
  bytesToPeers: number
}

/** Every stream counter at zero (a hub's at start). */
export function streamCounters(): StreamCounters {
  return {
    opened: 0,
    closed: 0,
    refused: Object.fromEntries(STREAM_REFUSALS.map((r) => [r, 0])) as Record<StreamRefusal, number>,
    drops: Object.fromEntries([...STREAM_CODEC_REASONS, ...SCTP_PACKET_REASONS, 'sctp-refused', 'unknown-stream', 'role-conflict', 'no-association'].map((r) => [r, 0])) as StreamCounters['drops'],
    bytesFromPeers: 0,
    bytesToPeers: 0,
  }
}

interface PeerStreams {
  peer: Peer
  association: PeerAssociation
  pipes: Map<number, StreamPipe>
  /** technician: streams sent OPEN, waiting for ACCEPT or REFUSE */
  opening: Map<number, { pipe: StreamPipe; socket: Socket; settle: (refusal: StreamRefusal | null) => void; accepted: (() => void) | undefined }>
  /** device: connections not yet made */
  connecting: Map<number, Socket>
  nextId: number
  connectedWaiters: ((ok: boolean) => void)[]
}

export class StreamHub extends EventEmitter<StreamHubEvents> {
  readonly counters: StreamCounters = streamCounters()
  private readonly byPeer = new Map<number, PeerStreams>()
  private closed = false

  constructor(private readonly options: StreamHubOptions) {
    super()
  }

  // ---- from the data path ---------------------------------------------------------------------

  /** A SESSION_DATA kind 4 payload from a peer (a view of a reused buffer: copied here). */
  receive(peer: Peer, payload: Buffer): void {
    if (this.closed) return
    const malformed = checkSctpPacket(payload)
    if (malformed !== null) {
      this.counters.drops[malformed]++
      return
    }
    const init = isSctpInit(payload)
    let entry = this.byPeer.get(peer.edgeId)
    if (entry === undefined && !init) {
      // a packet of an association we do not hold: the peer's side of one from before we restarted
      // (same identity), still retransmitting or probing. Only an INIT starts one here: answered by a
      // server association, it would sit unconnected and our own open() would find it in the way.
      this.counters.drops['no-association']++
      return
    }
    if (entry !== undefined && init) {
      if (entry.association.role === 'client') {
        // both sides think they opened: only technicians open, so this peer is confused or hostile
        this.counters.drops['role-conflict']++
        return
      }
      // a new association from the same member (its process restarted with the same identity): the old one is dead
      if (entry.association.state === 'connected') {
        this.drop(entry, 'closed')
        entry = undefined
      }
    }
    entry ??= this.associate(peer, 'server')
    entry.association.receive(Buffer.from(payload))
  }

  /** The peer was removed (revoked, expired, gone, evicted): its streams end now. */
  peerRemoved(peer: Peer): void {
    const entry = this.byPeer.get(peer.edgeId)
    if (entry !== undefined && entry.peer === peer) this.drop(entry, 'closed')
  }

  /** The edge stops: every stream ends. */
  close(): void {
    this.closed = true
    for (const entry of [...this.byPeer.values()]) this.drop(entry, 'closed')
  }

  // ---- the technician's side ------------------------------------------------------------------

  /**
   * Carries a local TCP connection to `port` of the member at overlay address `device`. Resolves
   * null once the device accepted (the socket's bytes flow from then on), or the refusal; on a
   * refusal the socket is left to the caller (a SOCKS5 reply goes on it first), else it is the stream's.
   * `accepted` runs once the device accepted, before any of its bytes reach the socket (the SOCKS5 reply).
   */
  async open(device: string, port: number, socket: Socket, accepted?: () => void): Promise<StreamRefusal | null> {
    socket.pause()
    const entry = await this.associationTo(device)
    if (typeof entry === 'string') return this.refusedOut(null, device, port, entry)
    if (entry.pipes.size + entry.opening.size >= MAX_STREAMS_PER_PEER) return this.refusedOut(entry, device, port, 'too-many-streams')
    const id = this.freeId(entry)
    const pipe = new StreamPipe(id, port, this.options.clock.now(), this.pipeOwner(entry, id, 'out'))
    const answer = new Promise<StreamRefusal | null>((settle) => entry.opening.set(id, { pipe, socket, settle, accepted }))
    const timer = this.options.clock.after(OPEN_TIMEOUT_MS, () => this.settleOpen(entry, id, 'unreachable'))
    this.sendMessage(entry, id, { type: StreamMessageType.Open, port })
    const refusal = await answer
    timer.cancel()
    if (refusal !== null) return this.refusedOut(entry, device, port, refusal)
    return null
  }

  // ---- status ---------------------------------------------------------------------------------

  /** Streams open now, per peer, and the counters (for /status). */
  status(): { active: ActiveStream[]; counters: StreamCounters } {
    const now = this.options.clock.now()
    const active: ActiveStream[] = []
    for (const entry of this.byPeer.values()) {
      // only technicians open streams: the side that answered the association is the one opened to
      const direction = entry.association.role === 'server' ? 'in' : 'out'
      for (const pipe of entry.pipes.values()) {
        active.push({ peer: formatEdgeId(entry.peer.edgeId), id: pipe.id, direction, port: pipe.port, bytesFromPeer: pipe.bytesFromPeer, bytesToPeer: pipe.bytesToPeer, ageMs: now - pipe.startedAt })
      }
    }
    return { active, counters: structuredClone(this.counters) }
  }

  // ---- associations ---------------------------------------------------------------------------

  private associate(peer: Peer, role: 'client' | 'server'): PeerStreams {
    const entry: PeerStreams = {
      peer,
      association: null as unknown as PeerAssociation,
      pipes: new Map(),
      opening: new Map(),
      connecting: new Map(),
      nextId: 1,
      connectedWaiters: [],
    }
    entry.association = new PeerAssociation(
      role,
      (packet) => this.options.send(peer, packet),
      {
        message: (streamId, data) => this.onMessage(entry, streamId, data),
        flushed: () => {
          for (const pipe of entry.pipes.values()) pipe.resume()
        },
        connected: () => {
          for (const waiter of entry.connectedWaiters.splice(0)) waiter(true)
        },
        closed: () => {
          if (this.byPeer.get(peer.edgeId) === entry) this.drop(entry, 'closed')
        },
        refused: () => this.counters.drops['sctp-refused']++,
      },
      this.options.log,
    )
    this.byPeer.set(peer.edgeId, entry)
    entry.association.start()
    return entry
  }

  /** Ends a peer's association and everything on it. */
  private drop(entry: PeerStreams, reason: StreamRefusal): void {
    if (this.byPeer.get(entry.peer.edgeId) === entry) this.byPeer.delete(entry.peer.edgeId)
    for (const id of [...entry.opening.keys()]) this.settleOpen(entry, id, reason)
    for (const socket of entry.connecting.values()) socket.destroy()
    entry.connecting.clear()
    for (const pipe of [...entry.pipes.values()]) pipe.reset(reason)
    for (const waiter of entry.connectedWaiters.splice(0)) waiter(false)
    entry.association.close()
  }

  /** The association with the member at `device`, connected; or why there is none. */
  private associationTo(device: string): Promise<PeerStreams | StreamRefusal> {
    const { clock, options } = { clock: this.options.clock, options: this.options }
    const started = clock.now()
    let queriedAt = -Infinity
    return new Promise((resolve) => {
      let poll: TimerHandle | null = null
      const finish = (result: PeerStreams | StreamRefusal): void => {
        poll?.cancel()
        resolve(result)
      }
      const look = (): boolean => {
        if (this.closed) {
          finish('closed')
          return true
        }
        const now = clock.now()
        if (now - started >= OPEN_TIMEOUT_MS) {
          finish('unreachable')
          return true
        }
        const peer = options.peerByAddress(device)
        if (peer === undefined) {
          if (now - queriedAt >= QUERY_GAP_MS) {
            queriedAt = now
            options.query(device)
          }
          return false
        }
        if (peer.session.state !== 'ready') {
          if (peer.session.state === 'idle') peer.session.initiate()
          return false
        }
        let entry = this.byPeer.get(peer.edgeId)
        if (entry !== undefined && entry.peer !== peer) {
          this.drop(entry, 'closed')
          entry = undefined
        }
        entry ??= this.associate(peer, 'client')
        if (entry.association.state === 'connected') finish(entry)
        else if (entry.association.role === 'server') finish('no-service')
        else {
          poll?.cancel()
          poll = null
          const connected = entry
          const timeout = clock.after(Math.max(0, OPEN_TIMEOUT_MS - (now - started)), () => finish('unreachable'))
          connected.connectedWaiters.push((ok) => {
            timeout.cancel()
            finish(ok ? connected : 'closed')
          })
        }
        return true
      }
      if (!look()) {
        poll = clock.every(OPEN_POLL_MS, () => {
          if (poll !== null && look()) poll?.cancel()
        })
      }
    })
  }

  private freeId(entry: PeerStreams): number {
    for (;;) {
      const id = entry.nextId
      entry.nextId = id >= MAX_STREAM_ID ? 1 : id + 1
      if (!entry.pipes.has(id) && !entry.opening.has(id)) return id
    }
  }

  // ---- messages -------------------------------------------------------------------------------

  private sendMessage(entry: PeerStreams, id: number, message: StreamMessage): void {
    entry.association.send(id, encodeStreamMessage(message))
  }

  private onMessage(entry: PeerStreams, id: number, data: Buffer): void {
    const decoded = decodeStreamMessage(data)
    if (!decoded.ok) {
      this.counters.drops[decoded.reason]++
      const pipe = entry.pipes.get(id)
      if (pipe !== undefined) pipe.reset('protocol')
      return
    }
    const message = decoded.value
    if (message.type === StreamMessageType.Open) {
      this.opened(entry, id, message.port)
      return
    }
    const opening = entry.opening.get(id)
    if (opening !== undefined) {
      if (message.type === StreamMessageType.Accept) this.settleOpen(entry, id, null)
      else if (message.type === StreamMessageType.Refuse || message.type === StreamMessageType.Reset) this.settleOpen(entry, id, message.reason)
      else this.settleOpen(entry, id, 'protocol')
      return
    }
    const pipe = entry.pipes.get(id)
    if (pipe === undefined) {
      // a stream that just ended on our side (its last messages cross our RESET), or junk
      this.counters.drops['unknown-stream']++
      return
    }
    pipe.onMessage(message)
  }

  /** Technician: the device's answer to an OPEN (or a timeout, or the peer's end). */
  private settleOpen(entry: PeerStreams, id: number, refusal: StreamRefusal | null): void {
    const opening = entry.opening.get(id)
    if (opening === undefined) return
    entry.opening.delete(id)
    if (refusal === null) {
      opening.accepted?.()
      entry.pipes.set(id, opening.pipe)
      opening.pipe.attach(opening.socket)
      this.counters.opened++
      this.tell('opened', opening.pipe, entry, 'out', null)
    } else if (refusal === 'unreachable') {
      // no answer: the device may still connect later; it must not keep a stream nobody reads
      this.sendMessage(entry, id, { type: StreamMessageType.Reset, reason: 'unreachable' })
    }
    opening.settle(refusal)
  }

  // ---- the device's side ----------------------------------------------------------------------

  /** Device: a peer asks for a connection to `port`. */
  private opened(entry: PeerStreams, id: number, port: number): void {
    const refuse = (reason: StreamRefusal): void => {
      this.sendMessage(entry, id, { type: StreamMessageType.Refuse, reason })
      this.counters.refused[reason]++
      const e: StreamEvent = { ...this.eventBase(entry, id, port, 'in', this.options.clock.now()), event: 'refused', reason }
      this.options.log.warn(`stream ${id} from "${e.peer.name}" ${e.peer.fingerprint} to port ${port} refused: ${reason}`)
      this.emit('stream', e)
    }
    if (entry.association.role !== 'server' || entry.pipes.has(id) || entry.connecting.has(id)) {
      this.counters.drops['role-conflict']++
      entry.pipes.get(id)?.reset('protocol')
      return
    }
    const acceptor = this.options.acceptor
    if (acceptor === null) return refuse('no-service')
    if (!STREAM_ROLES.has(entry.peer.identity.certificate.role)) return refuse('not-a-member')
    if (acceptor.allow !== null && !acceptor.allow.tcp.some((r) => port >= r.from && port <= r.to)) return refuse('port-not-allowed')
    if (entry.pipes.size + entry.connecting.size >= MAX_STREAMS_PER_PEER) return refuse('too-many-streams')
    const socket = acceptor.connect(port)
    if (socket === null) return refuse('no-service')
    entry.connecting.set(id, socket)
    const timer = this.options.clock.after(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error('timeout')))
    socket.once('connect', () => {
      timer.cancel()
      if (entry.connecting.get(id) !== socket) return
      entry.connecting.delete(id)
      const pipe = new StreamPipe(id, port, this.options.clock.now(), this.pipeOwner(entry, id, 'in'))
      entry.pipes.set(id, pipe)
      this.sendMessage(entry, id, { type: StreamMessageType.Accept })
      pipe.attach(socket)
      this.counters.opened++
      this.tell('opened', pipe, entry, 'in', null)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      timer.cancel()
      if (entry.connecting.get(id) !== socket) return
      entry.connecting.delete(id)
      refuse(err.code === 'ECONNREFUSED' ? 'connection-refused' : 'unreachable')
    })
  }

  // ---- both sides -----------------------------------------------------------------------------

  private pipeOwner(entry: PeerStreams, id: number, direction: 'in' | 'out'): PipeOwner {
    return {
      send: (message) => this.sendMessage(entry, id, message),
      congested: () => entry.association.congested,
      done: (pipe, reason) => {
        if (entry.pipes.get(pipe.id) === pipe) entry.pipes.delete(pipe.id)
        this.counters.closed++
        this.counters.bytesFromPeers += pipe.bytesFromPeer
        this.counters.bytesToPeers += pipe.bytesToPeer
        this.tell('closed', pipe, entry, direction, reason)
      },
    }
  }

  private refusedOut(entry: PeerStreams | null, device: string, port: number, reason: StreamRefusal): StreamRefusal {
    this.counters.refused[reason]++
    const where = entry === null ? device : `${device} (${formatEdgeId(entry.peer.edgeId)})`
    this.options.log.warn(`stream to ${where} port ${port} refused: ${reason}`)
    if (entry !== null) this.emit('stream', { ...this.eventBase(entry, 0, port, 'out', this.options.clock.now()), event: 'refused', reason })
    return reason
  }

  private tell(event: 'opened' | 'closed', pipe: StreamPipe, entry: PeerStreams, direction: 'in' | 'out', reason: StreamRefusal | null): void {
    const e: StreamEvent = { ...this.eventBase(entry, pipe.id, pipe.port, direction, pipe.startedAt), event, reason, bytesFromPeer: pipe.bytesFromPeer, bytesToPeer: pipe.bytesToPeer }
    const who = `"${e.peer.name}" ${e.peer.fingerprint}`
    const what = direction === 'in' ? `from ${who} to port ${e.port}` : `to ${e.peer.ip ?? e.peer.edgeId} port ${e.port}`
    if (event === 'opened') this.options.log.info(`stream ${e.id} ${what} open`)
    else this.options.log.info(`stream ${e.id} ${what} closed${reason === null ? '' : ` (${reason})`}: ${e.bytesFromPeer} B in, ${e.bytesToPeer} B out, ${(e.durationMs / 1000).toFixed(1)} s`)
    this.emit('stream', e)
  }

  private eventBase(entry: PeerStreams, id: number, port: number, direction: 'in' | 'out', since: number): StreamEvent {
    const certificate = entry.peer.identity.certificate
    return {
      event: 'opened',
      id,
      direction,
      peer: { edgeId: formatEdgeId(entry.peer.edgeId), name: certificate.name, fingerprint: formatFingerprint(entry.peer.identity.fingerprint), role: certificate.role, ip: certificate.ipv4?.address ?? null },
      port,
      reason: null,
      bytesFromPeer: 0,
      bytesToPeer: 0,
      durationMs: this.options.clock.now() - since,
    }
  }
}
