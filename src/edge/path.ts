// How frames reach one peer, as an explicit state machine with one owner: PeerPath. Every change
// goes through apply(), and what a change does (endpoint, timers, retries, birthday sockets to
// release) runs there, as the entry action of the new state. The diagram and the TRANSITIONS table
// below are the whole behaviour:
//
//   relay ──peer-info──▶ punching ──probe-ack──▶ direct ──direct-quiet──▶ suspect
//     ▲                   ▲  │                      ▲                         │
//     ├──punch-exhausted──┼──┘                      └────────probe-ack────────┤
//     │                   └─────────────────peer-info─────────────────────────┤
//     └──────────────────────────direct-silent────────────────────────────────┘
//
// Frames go through the supernode in `relay`, `punching` and `suspect` (no loss while probing),
// straight to the peer in `direct`. `suspect` is a direct path that stopped answering (a NAT
// forgot its mapping, or the peer restarted behind a new one, say): frames take the relay at once,
// fast probes check the old endpoint, and the edge asks the supernode for the peer again, whose
// answer starts punching toward fresh endpoints. A late probe-ack in `relay` still makes the path
// direct. Quiet (`direct-quiet`) is nothing heard for DIRECT_QUIET_MS, or, while we send frames,
// nothing heard for UNANSWERED_SUSPECT_MS with a probe sent halfway (onFramesUnanswered).
//
// Timers are named after what they wait for, as in wireguard-go's timers.go: onPunchRoundDue,
// onPunchExhausted, onKeepaliveDue, onFramesUnanswered, onDirectQuiet, onDirectSilent, onRetryDue. The edge's scheduler
// calls runTimers() on each tick; it decides which one is due and calls it.
import type { PairSession } from '../crypto/noise-session.js'
import type { Transport } from '../net/transport.js'
import { endpointOf, type Endpoint } from '../wire/index.js'
import { Candidates, type CandidateRules } from './candidates.js'
import { PUNCH_SCHEDULE_MS, PUNCH_TTLS } from './punch.js'

export type PathState = 'relay' | 'punching' | 'direct' | 'suspect'
export type PathEvent = 'peer-info' | 'probe-ack' | 'punch-exhausted' | 'direct-quiet' | 'direct-silent'

const TRANSITIONS: Record<PathState, Partial<Record<PathEvent, PathState>>> = {
  relay: { 'peer-info': 'punching', 'probe-ack': 'direct' },
  punching: { 'peer-info': 'punching', 'probe-ack': 'direct', 'punch-exhausted': 'relay' },
  direct: { 'probe-ack': 'direct', 'direct-quiet': 'suspect', 'direct-silent': 'relay' },
  suspect: { 'peer-info': 'punching', 'probe-ack': 'direct', 'direct-silent': 'relay' },
}

/** below common NAT UDP timeouts (30 s), and quick enough to notice a dead path */
export const DIRECT_KEEPALIVE_MS = 5_000
/**
 * Both sides probe every DIRECT_KEEPALIVE_MS and answer each other's probes, so a working path is
 * never quiet longer than that; a second more is the last probe's time to be answered. Past it
 * the path is suspect: a NAT that lost its mapping (conntrack flushed, router rebooted) would
 * otherwise swallow every frame until DIRECT_TIMEOUT_MS.
 */
export const DIRECT_QUIET_MS = DIRECT_KEEPALIVE_MS + 1_000
/** probes to a suspect path's endpoint, this often: a lost probe or answer is made up for at once */
export const SUSPECT_PROBE_MS = 1_000
/**
 * Frames sent on a direct path and nothing heard back for this long: a probe now, not at the next
 * keepalive. A live peer answers it within a round trip even when the traffic is one way (a UDP
 * stream): one probe a second is all such a flow costs.
 */
export const UNANSWERED_PROBE_MS = 1_000
/**
 * ...and still nothing heard this long after the first unanswered frame (the probe had a second):
 * the path is suspect. A peer restarted behind a new NAT mapping, which has no reason to send
 * first, is found this soon instead of after DIRECT_QUIET_MS.
 */
export const UNANSWERED_SUSPECT_MS = UNANSWERED_PROBE_MS + SUSPECT_PROBE_MS
export const DIRECT_TIMEOUT_MS = 15_000
/** after punching gave up or a direct path died, ask the supernode again (fresh endpoints) this much later */
export const PUNCH_RETRY_MS = 30_000

/** The state after `event`, or the same state when the event means nothing there. */
export function nextPath(state: PathState, event: PathEvent): PathState {
  return TRANSITIONS[state][event] ?? state
}

/** A path with a direct endpoint to keep alive (and to probe): `direct` or `suspect`. */
export function hasDirectEndpoint(state: PathState): boolean {
  return state === 'direct' || state === 'suspect'
}

/** Who the path belongs to, as the actions need it (the peer's edge ID keys birthday sessions; its pair session seals the probes). */
export interface PathOwner {
  readonly edgeId: number
  readonly path: PeerPath
  readonly session: PairSession
  /** frames sent to the peer so far (read on timer ticks: whether frames went out unanswered) */
  readonly txPackets: number
}

/**
 * What a path's actions do outside it: one object per edge, shared by every peer's path (no closure
 * per peer). The edge implements it with its prober, birthday puncher and supernode links.
 */
export interface PathActions {
  readonly relayOnly: boolean
  /** our subnets, and where refused candidates are counted (candidates.ts) */
  readonly candidateRules: CandidateRules
  /** a PROBE to one endpoint; `ttl` 0: the socket's default; `via`: a birthday socket, or null for the main one */
  probe(owner: PathOwner, address: string, port: number, ttl: number, via: Transport | null): void
  /** asks the supernode for the peer again: its answer (and the peer's PUNCH_REQUEST) starts punching */
  query(owner: PathOwner): void
  /** whether a birthday session is running for this peer */
  birthdayActive(owner: PathOwner): boolean
  /** starts a birthday session when one may start and would help; false when it did not */
  birthdayStart(owner: PathOwner, now: number): boolean
  /** sprays what is due; true when the session ran its time without a hit */
  birthdayTick(owner: PathOwner, now: number): boolean
  /** the direct path works: the birthday session ends, its sockets the peer reached stay */
  birthdayAdopt(owner: PathOwner): void
  /** the direct path is gone (or the peer is): its birthday sockets close */
  birthdayRelease(owner: PathOwner): void
  /** the state or the endpoint changed: logs and tells listeners */
  changed(owner: PathOwner): void
}

export class PeerPath {
  private current: PathState = 'relay'
  /** where frames go in `direct` (and what `suspect` probes) */
  private direct: Endpoint | null = null
  /** the socket the direct path uses: null for the main one, else a birthday-punching socket */
  private directVia: Transport | null = null
  /** where to probe: reflexive (from the supernode), peer-reflexive, the peer's LAN addresses; bounded */
  private readonly candidates: Candidates
  /** the peer's public endpoint as its supernode sees it */
  private reflexiveEndpoint: Endpoint | null = null
  /** the peer's own UDP port (its LAN candidates carry it): compared with `reflexive`, says whether its NAT rewrites ports */
  private ownPort: number | null = null
  /** last authenticated packet that came straight from the peer's direct endpoint (not via the supernode) */
  private lastDirectRx = 0
  /** owner.txPackets when the timers last looked, and the first tick since the last direct rx that saw it grow (0: none) */
  private txSeen = 0
  private sentSince = 0
  /** when frames unanswered last made us probe (once per unanswered stretch) */
  private unansweredProbeAt = 0
  private punchRound = 0
  private nextProbeAt = 0
  /** when to ask the supernode again after punching gave up or the direct path died; 0: not scheduled */
  private retryAt = 0
  private rtt: number | null = null

  constructor(
    private readonly owner: PathOwner,
    private readonly actions: PathActions,
  ) {
    this.candidates = new Candidates(actions.candidateRules)
  }

  get state(): PathState {
    return this.current
  }

  /** Where direct frames go: set only in `direct` and `suspect`. */
  get endpoint(): Endpoint | null {
    return hasDirectEndpoint(this.current) ? this.direct : null
  }

  /** The socket direct frames leave through (null: the main one). */
  get via(): Transport | null {
    return this.directVia
  }

  get reflexive(): Endpoint | null {
    return this.reflexiveEndpoint
  }

  get localPort(): number | null {
    return this.ownPort
  }

  /** The endpoints a punch round probes now, most trusted first (at most MAX_CANDIDATES_PER_PEER). */
  get candidateEndpoints(): readonly Endpoint[] {
    return this.candidates.all
  }

  get rttMs(): number | null {
    return this.rtt
  }

  /** True when frames to the peer may go straight to it now. */
  get isDirect(): boolean {
    return this.current === 'direct'
  }

  // ---- events --------------------------------------------------------------------------------

  /** The supernode told us where the peer is (PEER_INFO or PUNCH_REQUEST): punch toward it. */
  onPeerInfo(reflexive: Endpoint | null, lanCandidates: readonly Endpoint[], now: number): void {
    this.reflexiveEndpoint = reflexive
    // read, never probed as such: its port says whether the peer's NAT rewrites ports (birthday roles)
    this.ownPort = lanCandidates[0]?.port ?? null
    if (this.actions.relayOnly) return
    this.candidates.fromSupernode(reflexive, lanCandidates, this.endpoint, now)
    this.apply('peer-info', now)
  }

  /**
   * An authenticated PROBE_ACK from address:port on `via`, answering a probe sent `rttMs` ago.
   * `verified`: the peer's record is known (a path moves only toward a peer whose MAC we know).
   */
  onProbeAck(address: string, port: number, via: Transport | null, rttMs: number, verified: boolean, now: number): void {
    this.rtt = rttMs
    if (this.actions.relayOnly || !verified) return
    const moved = this.direct === null || this.direct.address !== address || this.direct.port !== port || this.directVia !== via
    if (this.current === 'direct' && !moved) return
    this.direct = endpointOf(address, port)
    this.directVia = via
    this.apply('probe-ack', now, moved)
  }

  /**
   * An authenticated PROBE from address:port on `via` (already answered). The address it came from
   * is a candidate too (peer-reflexive): a NAT may have given the peer a port nobody could predict;
   * probing it back is what opens our side toward it. A probe that reached a birthday socket is
   * probed back through that socket, even from an address we knew. On a direct path, a probe
   * from elsewhere says the peer's NAT moved it (its conntrack was flushed, say): the answer to
   * probing it back moves the path there. Candidates are bounded (candidates.ts): a source beyond
   * the bound is answered but never probed. `verified`: the peer's record is known; until then its
   * sources are only remembered (a path moves only toward a verified peer, and an edge ID nobody
   * registered must not make us send), and the punch rounds its record starts probe them.
   */
  onProbeFrom(from: Endpoint, via: Transport | null, verified: boolean, now: number): void {
    if (this.actions.relayOnly) return
    if (hasDirectEndpoint(this.current) && this.isDirectEndpoint(from.address, from.port) && this.directVia === via) return
    const verdict = this.candidates.addPeerReflexive(from, now)
    if (verified && (verdict === 'new' || (verdict === 'known' && via !== null))) this.actions.probe(this.owner, from.address, from.port, 0, via)
  }

  /** Any authenticated packet from address:port (not via the supernode): the direct path, if it is that one, lives. Per packet: no allocation. */
  heardFrom(address: string, port: number, now: number): void {
    if (this.isDirectEndpoint(address, port)) this.lastDirectRx = now
  }

  /** The peer is removed from the table: what the path holds outside it goes. */
  close(): void {
    this.actions.birthdayRelease(this.owner)
  }

  // ---- timers --------------------------------------------------------------------------------

  /** Called on each scheduler tick: runs whichever of this path's timers is due. */
  runTimers(now: number): void {
    switch (this.current) {
      case 'punching':
        if (this.actions.birthdayActive(this.owner)) {
          if (this.actions.birthdayTick(this.owner, now)) this.onPunchExhausted(now)
        } else if (now >= this.nextProbeAt) {
          if (this.punchRound >= PUNCH_SCHEDULE_MS.length) this.onPunchExhausted(now)
          else this.onPunchRoundDue(now)
        }
        return
      case 'direct':
      case 'suspect': {
        const quietMs = now - this.lastDirectRx
        const unansweredMs = this.framesUnansweredFor(now)
        if (quietMs >= DIRECT_TIMEOUT_MS) this.onDirectSilent(now)
        else if (this.current === 'direct' && (quietMs >= DIRECT_QUIET_MS || unansweredMs >= UNANSWERED_SUSPECT_MS)) this.onDirectQuiet(now)
        else if (this.current === 'direct' && unansweredMs >= UNANSWERED_PROBE_MS && this.unansweredProbeAt < this.sentSince) this.onFramesUnanswered(now)
        else if (now >= this.nextProbeAt) this.onKeepaliveDue(now)
        return
      }
      case 'relay':
        if (this.retryAt !== 0 && now >= this.retryAt) this.onRetryDue()
    }
  }

  /** The next round of probes to every candidate, with the TTL ladder's next step. */
  private onPunchRoundDue(now: number): void {
    const ttl = PUNCH_TTLS[this.punchRound] ?? 0
    for (const candidate of this.candidates.all) this.actions.probe(this.owner, candidate.address, candidate.port, ttl, null)
    this.nextProbeAt = now + (PUNCH_SCHEDULE_MS[this.punchRound] ?? 0)
    this.punchRound++
  }

  /** Ordinary probes (or a birthday session) never met: try the birthday way once, else the relay. */
  private onPunchExhausted(now: number): void {
    if (!this.actions.birthdayActive(this.owner) && this.actions.birthdayStart(this.owner, now)) return
    this.apply('punch-exhausted', now)
  }

  /**
   * How long frames have gone out with nothing heard straight from the peer since the first of
   * them (0: none unanswered). Read on ticks from the peer's frame counter: nothing per frame.
   */
  private framesUnansweredFor(now: number): number {
    const sent = this.owner.txPackets
    if (sent !== this.txSeen) {
      this.txSeen = sent
      if (this.sentSince <= this.lastDirectRx) this.sentSince = now
    }
    return this.sentSince > this.lastDirectRx ? now - this.sentSince : 0
  }

  /** Frames went out and nothing came back for UNANSWERED_PROBE_MS: a probe now finds out whether the path lives. */
  private onFramesUnanswered(now: number): void {
    this.unansweredProbeAt = now
    const direct = this.direct!
    this.actions.probe(this.owner, direct.address, direct.port, 0, this.directVia)
  }

  /** A probe to the direct endpoint: holds both NAT mappings open and measures RTT. */
  private onKeepaliveDue(now: number): void {
    const direct = this.direct!
    this.actions.probe(this.owner, direct.address, direct.port, 0, this.directVia)
    this.nextProbeAt = now + (this.current === 'suspect' ? SUSPECT_PROBE_MS : DIRECT_KEEPALIVE_MS)
  }

  private onDirectQuiet(now: number): void {
    this.apply('direct-quiet', now)
  }

  /**
   * A sign that the peer restarted (a newer announcement of it, its handshake answered through the
   * relay): the direct endpoint may be a dead process's port. Suspect it now rather than after
   * DIRECT_QUIET_MS: frames go through the relay meanwhile, a probe each second finds out, and the
   * supernode is asked where the peer is now. A live path is direct again at the next probe-ack.
   */
  suspect(now: number): void {
    if (this.current === 'direct') this.apply('direct-quiet', now)
  }

  private onDirectSilent(now: number): void {
    this.apply('direct-silent', now)
  }

  /** Some time after the path fell back to the relay: fresh endpoints from the supernode, and a new try. */
  private onRetryDue(): void {
    this.retryAt = 0
    this.actions.query(this.owner)
  }

  // ---- the one place the state changes -------------------------------------------------------

  /**
   * Applies an event: moves to the next state and runs its entry action. A transition the table
   * lists back to the same state (punching again on fresh peer info, direct at a new endpoint)
   * runs the entry action too. `moved`: the direct endpoint changed, which listeners hear about
   * even when the state stays `direct`.
   */
  private apply(event: PathEvent, now: number, moved = false): void {
    const next = TRANSITIONS[this.current][event]
    if (next === undefined) return
    const changed = next !== this.current
    this.current = next
    switch (next) {
      case 'punching':
        this.punchRound = 0
        this.onPunchRoundDue(now)
        break
      case 'direct':
        this.lastDirectRx = now
        this.nextProbeAt = now + DIRECT_KEEPALIVE_MS
        this.actions.birthdayAdopt(this.owner)
        break
      case 'suspect':
        // its NAT may have moved it to another port: the supernode knows where it is now, and its
        // answer (and the peer's PUNCH_REQUEST) starts punching on both sides at once
        this.onKeepaliveDue(now)
        this.actions.query(this.owner)
        break
      case 'relay':
        this.direct = null
        this.directVia = null
        this.actions.birthdayRelease(this.owner)
        this.retryAt = now + PUNCH_RETRY_MS
    }
    if (changed || moved) this.actions.changed(this.owner)
  }

  private isDirectEndpoint(address: string, port: number): boolean {
    return this.direct !== null && this.direct.address === address && this.direct.port === port
  }
}
