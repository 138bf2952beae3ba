// The peer table (protocol v2): every member this edge holds a verified certificate of, by edge ID
// (the hash of its member key), by pair session, and by the MAC and overlay addresses its
// certificate binds. A peer exists only once its certificate checked out (from a PEER_INFO or
// PUNCH_REQUEST whose announcement the member signed, or from a completed handshake that carried
// it), and is what that certificate says: its identity, its path (path.ts), its pair session, the
// frames waiting for that session, the broadcast keys it gave us, and its traffic counters.
//
// Who holds a MAC or an address: the member whose certificate binds it, and only one at a time. A
// newer certificate of the same key replaces the old one at once (a restart with a persisted
// identity, a re-issue after auto-IP); another key claiming a MAC or address that a peer with a
// ready session holds is refused and counted (mac-in-use, address-in-use), so a newcomer never
// takes a live member's place here, whatever its certificate says. A holder without a ready
// session gives its place up.
import { edgeIdOf } from '../crypto/keys.js'
import { BroadcastReceiver, ForgottenBroadcastKeys } from './broadcast-keys.js'
import type { PairSession } from '../crypto/noise-session.js'
import { macKeyAt, type Certificate, type Endpoint, type Role } from '../wire/index.js'
import type { EdgeCounters } from './counters.js'
import { PeerPath, type PathActions, type PathOwner } from './path.js'
import { PeerBinding } from './peer-binding.js'
import { PendingFrames } from './pending-frames.js'
import type { EdgeReason } from './reasons.js'

/** A bound on the table: a community member cannot make us hold unbounded state. */
export const MAX_PEERS = 4096

/** What its certificate says a peer is. */
export interface PeerIdentity {
  /** decoded, owning its bytes */
  readonly certificate: Certificate
  readonly fingerprint: Buffer
  readonly macKey: number
  /** what its frames may claim (the frame filter's view) */
  readonly binding: PeerBinding
  /** the certificate's notAfter in ms since the epoch: the session ends then, by our clock */
  readonly notAfterMs: number
}

/** A checked certificate, as Credentials.checkPeer returns it when it is good. */
export interface VerifiedCertificate {
  certificate: Certificate
  fingerprint: Buffer
}

/** Why a verified certificate did not become (or change) a peer. Each is a drop counter. */
export type AdmitRefusal =
  | 'mac-in-use' // its MAC is ours, or a peer's with a ready session
  | 'address-in-use' // an overlay address of it is ours, or a peer's with a ready session
  | 'stale-certificate' // older than the one we hold for that member (a replayed announcement)
  | 'peer-table-full'
  | 'own-certificate' // our own key: the supernode told us about ourselves
  | 'technician-pair' // we are a technician and so is it: each is admitted to reach the device, not the other

/** Why a peer left the table. */
export type PeerRemoval = 'gone' | 'idle' | 'expired' | 'revoked' | 'replaced' | 'evicted' | 'handshake-failed'

/** Where the supernode said the peer is: punching starts from it once the session is ready. */
export interface PeerInfoSeen {
  reflexive: Endpoint | null
  candidates: readonly Endpoint[]
}

/** What the table needs of the session layer (the edge's SessionTable). */
export interface PeerSessions {
  /** the pair session with this member, made (idle) if new */
  open(certificate: Certificate): PairSession
  /** ends the session, keys erased; its handshake replay state is kept until `keepReplayUntilMs` */
  forget(session: PairSession, keepReplayUntilMs: number): void
}

export class Peer implements PathOwner {
  readonly path: PeerPath
  /** frames waiting for the session to be ready */
  readonly pending: PendingFrames
  /** the broadcast keys it gave us in our session (its current one, and the one before) */
  readonly broadcast: BroadcastReceiver
  /** the timestamp of the newest announcement of this member we took (0: none yet) */
  announcedAt = 0
  /** when a sign that it restarted last started a handshake (peer-directory.ts peerRestarted) */
  restartSignAt = -Infinity
  /** the supernode's word on where it is, kept until the session is ready to probe with */
  peerInfo: PeerInfoSeen | null = null
  private current: PeerIdentity

  /** last authenticated packet from the peer, by any way */
  lastSeen: number
  rxPackets = 0
  rxBytes = 0
  txPackets = 0
  txBytes = 0

  constructor(
    readonly edgeId: number,
    readonly session: PairSession,
    identity: PeerIdentity,
    now: number,
    actions: PathActions,
    pendingTotal: { pendingBytes: number },
    /** the table's memory of forgotten senders' broadcast keys (broadcast-keys.ts) */
    forgotten: ForgottenBroadcastKeys | null = null,
  ) {
    this.broadcast = new BroadcastReceiver(edgeId, forgotten)
    this.current = identity
    this.lastSeen = now
    this.path = new PeerPath(this, actions)
    this.pending = new PendingFrames(pendingTotal)
  }

  get identity(): PeerIdentity {
    return this.current
  }

  /** The MAC key its frames come from. */
  get macKey(): number {
    return this.current.macKey
  }

  /** Only PeerTable calls this: its indices change with it. */
  setIdentity(identity: PeerIdentity): void {
    this.current = identity
  }
}

/** A peer's identity from its verified certificate. */
export function identityOf(verified: VerifiedCertificate): PeerIdentity {
  const { certificate, fingerprint } = verified
  return {
    certificate,
    fingerprint,
    macKey: macKeyAt(certificate.mac, 0),
    binding: new PeerBinding(certificate),
    notAfterMs: certificate.notAfter * 1000,
  }
}

export class PeerTable {
  private readonly byId = new Map<number, Peer>()
  private readonly bySession = new Map<PairSession, Peer>()
  private readonly byMac = new Map<number, Peer>()
  private readonly byIpv4 = new Map<number, Peer>()
  private readonly byIpv6 = new Map<string, Peer>()
  /** what forgotten peers' broadcast keys opened: met again, a copy captured before stays refused */
  readonly forgottenBroadcastKeys = new ForgottenBroadcastKeys()
  /** what our own certificate binds: nobody else may claim it */
  private own: PeerBinding
  private ownRole: Role
  private readonly ownEdgeId: number

  constructor(
    private readonly actions: PathActions,
    /** pendingBytes (every peer's held frames together), peersEvicted, peersExpired, peersRevoked */
    private readonly counters: EdgeCounters,
    /** frames dropped with a peer removed before its session was ready: peer-removed */
    private readonly drops: Record<EdgeReason, number>,
    private readonly sessions: PeerSessions,
    ownCertificate: Certificate,
    /** told after a peer left (the broadcast key rotates: it must not read what follows) */
    private readonly removed: (peer: Peer, why: PeerRemoval) => void = () => {},
  ) {
    this.own = new PeerBinding(ownCertificate)
    this.ownRole = ownCertificate.role
    this.ownEdgeId = edgeIdOf(ownCertificate.memberKey)
  }

  get size(): number {
    return this.byId.size
  }

  get(edgeId: number): Peer | undefined {
    return this.byId.get(edgeId)
  }

  /** The peer that owns this MAC key (unicast MACs only are ever bound). */
  byMacKey(macKey: number): Peer | undefined {
    return this.byMac.get(macKey)
  }

  /** The peer a pair session belongs to. */
  ofSession(session: PairSession): Peer | undefined {
    return this.bySession.get(session)
  }

  values(): IterableIterator<Peer> {
    return this.byId.values()
  }

  /** Our own certificate changed (re-issued): its MAC and addresses are ours from now on. */
  setOwn(certificate: Certificate): void {
    this.own = new PeerBinding(certificate)
    this.ownRole = certificate.role
  }

  /**
   * A member's verified certificate: the peer it makes, or the one it updates; else why not.
   * `announcedAt`: the timestamp of the signed announcement that carried it (null: a handshake,
   * which its session has already proved fresh).
   */
  admit(verified: VerifiedCertificate, now: number, announcedAt: number | null = null): Peer | AdmitRefusal {
    const certificate = verified.certificate
    const edgeId = edgeIdOf(certificate.memberKey)
    if (edgeId === this.ownEdgeId) return 'own-certificate'
    // The owner admits each technician to reach the device, not the other technicians (whose
    // hosts are company laptops, not the device). Two technicians never pair: each edge refuses
    // the other, so an honest technician's host stays closed even to one whose edge dropped this.
    if (this.ownRole === 'technician' && certificate.role === 'technician') return 'technician-pair'
    const existing = this.byId.get(edgeId)
    if (existing !== undefined) return this.update(existing, verified, announcedAt)
    const identity = identityOf(verified)
    const refusal = this.claim(identity, null)
    if (refusal !== null) return refusal
    if (this.byId.size >= MAX_PEERS && !this.evict()) return 'peer-table-full'
    const peer = new Peer(edgeId, this.sessions.open(certificate), identity, now, this.actions, this.counters, this.forgottenBroadcastKeys)
    if (announcedAt !== null) peer.announcedAt = announcedAt
    this.byId.set(edgeId, peer)
    this.bySession.set(peer.session, peer)
    this.bind(peer)
    return peer
  }

  /**
   * Forgets a peer: its session ends (keys erased, handshake replay state kept until its
   * certificate's notAfter), frames waiting for it are dropped and counted, what its path holds
   * outside it (birthday sockets) goes.
   */
  remove(peer: Peer, why: PeerRemoval): void {
    if (this.byId.get(peer.edgeId) !== peer) return
    this.sessions.forget(peer.session, peer.identity.notAfterMs)
    this.drops['peer-removed'] += peer.pending.take().length
    this.byId.delete(peer.edgeId)
    this.bySession.delete(peer.session)
    this.unbind(peer)
    peer.broadcast.destroy()
    peer.path.close()
    this.removed(peer, why)
  }

  /**
   * Every peer whose certificate is past its notAfter by our clock, or revoked, goes (the edge runs
   * this each second: a session ends within a second of either). Returns how many went.
   */
  expire(nowMs: number, isRevoked: (fingerprint: Buffer) => boolean): number {
    let gone = 0
    for (const peer of this.byId.values()) {
      if (nowMs >= peer.identity.notAfterMs) {
        this.counters.peersExpired++
        this.remove(peer, 'expired')
        gone++
      } else if (isRevoked(peer.identity.fingerprint)) {
        this.counters.peersRevoked++
        this.remove(peer, 'revoked')
        gone++
      }
    }
    return gone
  }

  /** The same member's certificate again, or a newer one of it. */
  private update(peer: Peer, verified: VerifiedCertificate, announcedAt: number | null): Peer | AdmitRefusal {
    const held = peer.identity
    const same = held.fingerprint.equals(verified.fingerprint)
    if (announcedAt !== null) {
      // the announcement it registered with, handed again (a new query's answer): still the peer;
      // an older one than we took is a replay
      if (announcedAt < peer.announcedAt || (announcedAt === peer.announcedAt && !same)) return 'stale-certificate'
      peer.announcedAt = announcedAt
    }
    if (same) return peer
    if (verified.certificate.notBefore < held.certificate.notBefore) return 'stale-certificate'
    const identity = identityOf(verified)
    const refusal = this.claim(identity, peer)
    if (refusal !== null) return refusal
    this.unbind(peer)
    peer.setIdentity(identity)
    this.bind(peer)
    return peer
  }

  /**
   * Whether `identity` may hold its MAC and addresses (`self`: the peer it updates, whose own
   * claims are no conflict). Holders without a ready session are removed to make way; nothing is
   * removed when the claim is refused.
   */
  private claim(identity: PeerIdentity, self: Peer | null): AdmitRefusal | null {
    const own = this.own
    const b = identity.binding
    if (b.macKey === own.macKey) return 'mac-in-use'
    if (b.ipv4 !== -1 && b.ipv4 === own.ipv4) return 'address-in-use'
    if (b.ipv6 !== null && own.ipv6 !== null && b.ipv6.equals(own.ipv6)) return 'address-in-use'
    const holders = [this.byMac.get(b.macKey), b.ipv4 === -1 ? undefined : this.byIpv4.get(b.ipv4), b.ipv6 === null ? undefined : this.byIpv6.get(b.ipv6.toString('hex'))]
    for (let i = 0; i < holders.length; i++) {
      const holder = holders[i]
      if (holder !== undefined && holder !== self && holder.session.state === 'ready') return i === 0 ? 'mac-in-use' : 'address-in-use'
    }
    for (const holder of holders) if (holder !== undefined && holder !== self) this.remove(holder, 'replaced')
    return null
  }

  private bind(peer: Peer): void {
    const b = peer.identity.binding
    this.byMac.set(b.macKey, peer)
    if (b.ipv4 !== -1) this.byIpv4.set(b.ipv4, peer)
    if (b.ipv6 !== null) this.byIpv6.set(b.ipv6.toString('hex'), peer)
  }

  private unbind(peer: Peer): void {
    const b = peer.identity.binding
    if (this.byMac.get(b.macKey) === peer) this.byMac.delete(b.macKey)
    if (b.ipv4 !== -1 && this.byIpv4.get(b.ipv4) === peer) this.byIpv4.delete(b.ipv4)
    if (b.ipv6 !== null && this.byIpv6.get(b.ipv6.toString('hex')) === peer) this.byIpv6.delete(b.ipv6.toString('hex'))
  }

  /**
   * Makes room in a full table, the peer heard from least recently of: those without a ready
   * session; failing that, those no supernode ever told us about (met only by a handshake: in a
   * shared-secret community a member can mint identities and handshake with us from each, and
   * must not push out the members we reach through the supernode); failing that, those without a
   * live direct path. A peer on a live direct path is never evicted. False when every peer is one.
   */
  private evict(): boolean {
    let victim = this.leastRecent((peer) => peer.session.state !== 'ready')
    victim ??= this.leastRecent((peer) => peer.announcedAt === 0 && !peer.path.isDirect)
    victim ??= this.leastRecent((peer) => !peer.path.isDirect)
    if (victim === undefined) return false
    this.remove(victim, 'evicted')
    this.counters.peersEvicted++
    return true
  }

  private leastRecent(eligible: (peer: Peer) => boolean): Peer | undefined {
    let victim: Peer | undefined
    for (const peer of this.byId.values()) if (eligible(peer) && (victim === undefined || peer.lastSeen < victim.lastSeen)) victim = peer
    return victim
  }
}
