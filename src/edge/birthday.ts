// Birthday punching, for a peer behind a symmetric NAT (a new random public port for every
// destination), where the ordinary probes never meet. Tried when ordinary punching gave up, by both
// sides at once (neither knows which NAT is the symmetric one):
//  1. open: BIRTHDAY_SOCKETS extra sockets each send one low-TTL probe toward the peer's public
//     endpoint. On a symmetric NAT that opens as many random public ports, each of which lets the
//     peer in; the low TTL keeps those probes from reaching (and trapping) the peer's NAT.
//  2. spray: BIRTHDAY_SPRAY probes from the main socket to random ports of the peer's public
//     address. A cone NAT keeps one mapping for all of them, so any that hits a port opened in 1
//     comes through; the other side answers it and probes back through that socket, whose answer
//     makes the path direct, on that socket.
// With 256 ports opened out of ~64,500 and 1024 sprayed, the chance to meet is 1 - e^(-256·1024/64512)
// ≈ 98 %. The idea, and the socket count, are hyperdht's.
import type { Transport } from '../net/transport.js'
import type { Endpoint } from '../wire/index.js'
import type { PathOwner } from './path.js'
import { PUNCH_TTLS, type Prober } from './punch.js'
import type { SessionSender } from './session-sender.js'

export const BIRTHDAY_SOCKETS = 256
export const BIRTHDAY_SPRAY = 1024
/** the spray starts after the other side's opening probes have had time to leave its NAT */
export const BIRTHDAY_SPRAY_DELAY_MS = 300
/** probes sprayed per tick (50 ms): 1024 in 1.6 s, gentle on both NATs */
export const BIRTHDAY_SPRAY_PER_TICK = 32
/** how long a session waits for a hit after it starts */
export const BIRTHDAY_DURATION_MS = 6_000
/** one attempt per peer per this long */
export const BIRTHDAY_RETRY_MS = 5 * 60_000
/** the ports a NAT hands out: everything above the well-known range */
export const BIRTHDAY_PORTS = { from: 1024, to: 65535 }

export type OpenTransport = () => Promise<Transport>

/**
 * Who does what. A NAT that kept our local port as the public one (Linux MASQUERADE does, when it
 * can) maps one port for every destination: that side sprays. One that rewrote it may hand out a
 * new port per destination (symmetric): that side opens sockets. Spraying from behind a symmetric
 * NAT would hit the other side's own public port from random ports and poison its NAT
 * (conntrack), so a side sprays only when it keeps its port or nobody can tell.
 */
export interface BirthdayRole {
  open: boolean
  spray: boolean
}

/** `translated`: whether a NAT rewrote the side's local port (null: not known). Null: birthday would not help. */
export function birthdayRole(mineTranslated: boolean | null, theirsTranslated: boolean | null): BirthdayRole | null {
  if (mineTranslated === true && theirsTranslated === false) return { open: true, spray: false }
  if (mineTranslated === false && theirsTranslated === true) return { open: false, spray: true }
  // both kept their ports: ordinary probes should have met (a firewall, then); more would not help
  if (mineTranslated === false && theirsTranslated === false) return null
  return { open: true, spray: true }
}

interface Session {
  target: Endpoint
  role: BirthdayRole
  sockets: Transport[]
  /** sockets the peer has reached: it may be sending to their public ports, so they stay open */
  reached: Set<Transport>
  ports: Uint16Array
  sprayed: number
  startedAt: number
  openedAt: number
}

export class BirthdayPuncher {
  private readonly sessions = new Map<number, Session>()
  private readonly lastTried = new Map<number, number>()
  /** sockets the peer reached, kept open for as long as its direct path lives */
  private readonly kept = new Map<number, Set<Transport>>()
  /** totals since the start (sessions started and sockets open now are the edge's counters) */
  socketsOpened = 0
  probesSprayed = 0

  constructor(
    /** seals each probe with the peer's pair session */
    private readonly prober: Prober,
    /** forgets the send counts of sockets that close */
    private readonly sender: SessionSender,
    /** the edge's counters: sessions started, sockets open now */
    private readonly counters: { birthdaySessions: number; birthdaySockets: number },
    private readonly open: OpenTransport,
    /** hooks a new socket's datagrams into the edge's inbound path */
    private readonly attach: (transport: Transport) => void,
    private readonly ports = BIRTHDAY_PORTS,
  ) {}

  active(peer: PathOwner): boolean {
    return this.sessions.has(peer.edgeId)
  }

  /** Whether a session may start for this peer now (one at a time per edge, one per peer per BIRTHDAY_RETRY_MS). */
  mayStart(peer: PathOwner, now: number): boolean {
    const last = this.lastTried.get(peer.edgeId)
    return this.sessions.size === 0 && peer.path.reflexive !== null && (last === undefined || now - last >= BIRTHDAY_RETRY_MS)
  }

  /** Opens the sockets (if our role is to open) and sends their opening probes; the spray follows from tick(). */
  async start(peer: PathOwner, now: number, role: BirthdayRole): Promise<void> {
    const target = peer.path.reflexive!
    this.lastTried.set(peer.edgeId, now)
    this.counters.birthdaySessions++
    const session: Session = { target, role, sockets: [], reached: new Set(), ports: shuffledPorts(this.ports.from, this.ports.to, BIRTHDAY_SPRAY), sprayed: 0, startedAt: now, openedAt: now }
    this.sessions.set(peer.edgeId, session)
    if (!role.open) return
    const opened = await Promise.allSettled(Array.from({ length: BIRTHDAY_SOCKETS }, () => this.open()))
    for (const result of opened) {
      if (result.status !== 'fulfilled') continue
      if (this.sessions.get(peer.edgeId) !== session) {
        void result.value.close() // ended while opening
        continue
      }
      session.sockets.push(result.value)
      this.counters.birthdaySockets++
      this.socketsOpened++
      this.attach(result.value)
      this.prober.probe(peer, target.address, target.port, now, PUNCH_TTLS[0], result.value)
    }
  }

  /** Sprays what is due; returns true when the session has run its time without a hit. */
  tick(peer: PathOwner, now: number): boolean {
    const session = this.sessions.get(peer.edgeId)
    if (session === undefined) return false
    if (now - session.startedAt >= BIRTHDAY_DURATION_MS) {
      this.end(peer.edgeId)
      return true
    }
    if (!session.role.spray || now - session.startedAt < BIRTHDAY_SPRAY_DELAY_MS) return false
    const until = Math.min(session.ports.length, session.sprayed + BIRTHDAY_SPRAY_PER_TICK)
    this.probesSprayed += until - session.sprayed
    for (; session.sprayed < until; session.sprayed++) {
      this.prober.probe(peer, session.target.address, session.ports[session.sprayed]!, now)
    }
    return false
  }

  /** An authenticated packet from the peer arrived on `via` (one of this peer's sockets, or the main one). */
  reached(peer: PathOwner, via: Transport | null): void {
    if (via === null) return
    const session = this.sessions.get(peer.edgeId)
    if (session !== undefined && session.sockets.includes(via)) session.reached.add(via)
  }

  /**
   * A direct path to this peer now works: the session ends. Its sockets the peer has reached stay
   * open (the peer may send to any of their public ports, and we may answer through any); the
   * others close.
   */
  adopt(peer: PathOwner): void {
    const session = this.sessions.get(peer.edgeId)
    if (session === undefined) return
    this.sessions.delete(peer.edgeId)
    const kept = this.kept.get(peer.edgeId) ?? new Set<Transport>()
    for (const socket of session.sockets) {
      if (session.reached.has(socket)) kept.add(socket)
      else this.closeSocket(socket)
    }
    if (kept.size > 0) this.kept.set(peer.edgeId, kept)
  }

  /** The peer's direct path is gone (or the peer is): its sockets go too. */
  release(peer: PathOwner): void {
    this.end(peer.edgeId)
    for (const socket of this.kept.get(peer.edgeId) ?? []) this.closeSocket(socket)
    this.kept.delete(peer.edgeId)
  }

  async closeAll(): Promise<void> {
    const all = [...this.sessions.values()].flatMap((s) => s.sockets).concat([...this.kept.values()].flatMap((k) => [...k]))
    this.sessions.clear()
    this.kept.clear()
    this.counters.birthdaySockets = 0
    for (const socket of all) this.sender.forget(socket)
    await Promise.allSettled(all.map((s) => s.close()))
  }

  private end(peerId: number): void {
    const session = this.sessions.get(peerId)
    if (session === undefined) return
    this.sessions.delete(peerId)
    for (const socket of session.sockets) this.closeSocket(socket)
  }

  private closeSocket(socket: Transport): void {
    this.counters.birthdaySockets--
    this.sender.forget(socket)
    void socket.close()
  }
}

/** `count` distinct ports from [from, to] in random order (a partial Fisher-Yates shuffle). */
function shuffledPorts(from: number, to: number, count: number): Uint16Array {
  const size = to - from + 1
  const all = new Uint16Array(size)
  for (let i = 0; i < size; i++) all[i] = from + i
  const n = Math.min(count, size)
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (size - i))
    const t = all[i]!
    all[i] = all[j]!
    all[j] = t
  }
  return all.slice(0, n)
}
