// Who the peers are (protocol v2), from the two places a member's certificate reaches us: a
// PEER_INFO or PUNCH_REQUEST from one of our supernodes (the member's announcement: its signature by
// the certificate's member key checked, then the certificate), and a handshake that carried it
// (the session layer checked it, and that the handshake's static key is the one it binds). Either
// way the peer table decides whether the certificate may be a peer (peers.ts). The supernode's word
// on where a peer is starts its handshake, and punching once the session is ready. "Gone" from a
// supernode forgets a peer; an idle one is forgotten too; one whose certificate expired or was
// revoked goes within a second.
import type { PairSession } from '../crypto/noise-session.js'
import { verifyAnnouncementSignature } from '../crypto/announcement.js'
import type { CheckedCertificate } from '../crypto/certificate.js'
import { formatFingerprint } from '../crypto/identity.js'
import { edgeIdOf } from '../crypto/keys.js'
import type { Logger } from '../log/logger.js'
import { formatEdgeId, formatMac, type PeerInfo, type PeerTarget } from '../wire/index.js'
import type { EdgeCore } from './core.js'
import type { Peer, VerifiedCertificate } from './peers.js'

/** A peer nobody has heard from for this long is forgotten (it is asked for again when needed). */
export const PEER_IDLE_MS = 10 * 60_000
/** Certificates are looked at this often for notAfter and revocations: a session ends within it. */
export const CERTIFICATE_CHECK_MS = 1_000
/**
 * PEER_QUERYs for senders of broadcasts we cannot open yet, at most this many a second. A member
 * can send under as many made-up edge IDs as it likes, and the supernode allows each source 50
 * control packets a second: past that it would refuse our keepalives and our queries for real
 * peers too.
 */
export const SENDER_QUERIES_PER_SECOND = 20
const QUERY_WINDOW_MS = 1_000
/**
 * Signs that a peer restarted start a handshake at most this often per peer: one handshake answers
 * them all, and a member forging signs (flooding under made-up key IDs) costs one handshake a gap.
 */
export const RESTART_SIGN_GAP_MS = 5_000

/** What the directory needs of the edge's credentials (credentials.ts). */
export interface PeerChecks {
  /** a peer's certificate bytes: community, validity now, revocation, authority signature (cached) */
  checkPeer(bytes: Buffer): CheckedCertificate
  isRevoked(fingerprint: Buffer): boolean
}

export class PeerDirectory {
  private lastCertificateCheck = 0
  private queryWindowStart = 0
  private queriesInWindow = 0

  constructor(
    private readonly core: EdgeCore,
    private readonly checks: PeerChecks,
    private readonly query: (target: PeerTarget) => void,
    /** forgets a session whose peer was refused (keys erased) */
    private readonly forget: (session: PairSession) => void,
    private readonly log: Logger,
  ) {}

  /**
   * A PEER_INFO or PUNCH_REQUEST from one of our supernodes. Returns the peer it names, whose
   * handshake (or, once ready, punching) it starts; null when refused (counted) or our own.
   */
  onPeerInfo(packet: PeerInfo): Peer | null {
    const core = this.core
    const announcement = packet.announcement
    if (!verifyAnnouncementSignature(announcement)) {
      core.drops['bad-announcement']++
      return null
    }
    const announcedBefore = core.peers.get(edgeIdOf(announcement.certificate.memberKey))?.announcedAt
    const peer = this.admit(this.checks.checkPeer(announcement.certificate.bytes), announcement.timestamp)
    if (peer === null) return null
    // a peer on a WebSocket has no UDP endpoint the supernode knows: only its own LAN candidates are probed
    peer.peerInfo = { reflexive: packet.relayOnly ? null : packet.reflexive, candidates: announcement.candidates }
    if (peer.session.state !== 'ready') {
      peer.session.initiate()
      return peer
    }
    // a newer signed announcement: the peer registered again, perhaps as a restarted process that
    // has none of our keys (same identity) and another port. A handshake now makes keys it has (ours
    // stay in use until it completes); its old endpoint is suspect. A replayed announcement is not
    // newer (admit refuses an older one), so nobody but the peer can cause this.
    if (announcedBefore !== undefined && announcement.timestamp > announcedBefore) this.peerRestarted(peer)
    this.punch(peer)
    return peer
  }

  /**
   * A handshake (answered or completed) whose certificate the session layer accepted: the peer it
   * makes or updates, or null when the peer table refuses it; the session is then forgotten, so
   * nothing can be sealed to or opened from that member.
   */
  fromHandshake(session: PairSession): Peer | null {
    const known = this.core.peers.ofSession(session)
    const bytes = session.peerCertificate
    if (known !== undefined && bytes !== null && known.identity.certificate.bytes.equals(bytes)) return known
    const peer = bytes === null ? null : this.admit(this.checks.checkPeer(bytes), null)
    if (peer !== null) return peer
    // refused (its MAC is a live peer's, say): a peer we had keeps its place; a new one gets nothing
    if (known === undefined) this.forget(session)
    return known ?? null
  }

  /**
   * Something says the peer may have restarted and lost our session (a newer announcement, a
   * broadcast under a key it never gave us): a handshake, unless one is under way. Nothing is
   * dropped: the current keys seal until the new ones are ready, so a forged sign costs a handshake.
   */
  peerRestarted(peer: Peer): void {
    const now = this.core.now()
    if (now - peer.restartSignAt < RESTART_SIGN_GAP_MS) return
    peer.restartSignAt = now
    peer.path.suspect(now)
    peer.session.initiate()
  }

  /**
   * The session with this peer is ready: the supernode's word on where it is can be punched toward.
   * A session the peer started (its handshake came through the relay) may come before any such
   * word: we restarted, say, and the peer, whose last question to the supernode was answered with
   * our dead process's endpoint, handshook when our first broadcast reached it. Nobody would tell
   * either side where the other is now, and the pair would stay on the relay until a retry 30 s
   * later: ask the supernode, whose answer (and the PUNCH_REQUEST it sends the peer) starts
   * punching on both sides. Within the query budget.
   */
  sessionReady(peer: Peer): void {
    if (peer.peerInfo !== null) this.punch(peer)
    else if (!this.core.relayOnly) this.askFor(peer.edgeId, this.core.now())
  }

  /**
   * A supernode says a peer is gone. Unless a direct path still works, forget it: its MAC becomes
   * unknown again, so the next frame is flooded and asked for.
   */
  onPeerGone(edgeId: number): void {
    const peer = this.core.peers.get(edgeId)
    if (peer === undefined || peer.path.isDirect) return
    this.log.info(`peer ${formatEdgeId(edgeId)} is gone (the supernode no longer knows it)`)
    this.core.peers.remove(peer, 'gone')
  }

  /** Our NAT moved us: every peer not on the relay is asked for again, so that both sides punch toward where we are now. */
  onWeMoved(): void {
    for (const peer of this.core.peers.values()) if (peer.path.state !== 'relay') this.query({ kind: 'edge', edgeId: peer.edgeId })
  }

  /**
   * We are back on UDP after the fallback: while we were on it no peer could punch toward us, so
   * every one is on the relay, where a new try waits PUNCH_RETRY_MS. Ask for each now: the
   * supernode's answers and the PUNCH_REQUESTs it sends them start punching on both sides.
   */
  onUdpReturned(): void {
    for (const peer of this.core.peers.values()) this.query({ kind: 'edge', edgeId: peer.edgeId })
  }

  /** Asks the supernode for a member we have no session with (its broadcast came first), unless this second's budget is spent. */
  askFor(edgeId: number, now: number): void {
    if (now - this.queryWindowStart >= QUERY_WINDOW_MS) {
      this.queryWindowStart = now
      this.queriesInWindow = 0
    }
    if (this.queriesInWindow >= SENDER_QUERIES_PER_SECOND) return
    this.queriesInWindow++
    this.query({ kind: 'edge', edgeId })
  }

  /** Ends every peer whose certificate expired or was revoked (a revocation just arrived, say). */
  checkCertificates(now: number): void {
    this.lastCertificateCheck = now
    const gone = this.core.peers.expire(now, (fingerprint) => this.checks.isRevoked(fingerprint))
    if (gone > 0) this.log.info(`${gone} peer(s) removed: certificate expired or revoked`)
  }

  /** Each scheduler tick: every peer's path timers, and whether it went idle; each second, certificates. */
  runTimers(now: number): void {
    const core = this.core
    if (now - this.lastCertificateCheck >= CERTIFICATE_CHECK_MS) this.checkCertificates(now)
    for (const peer of core.peers.values()) {
      peer.path.runTimers(now)
      if (now - peer.lastSeen > PEER_IDLE_MS && !peer.path.isDirect) core.peers.remove(peer, 'idle')
    }
  }

  private admit(checked: CheckedCertificate, announcedAt: number | null): Peer | null {
    const core = this.core
    if (!checked.ok) {
      core.drops[checked.reason]++
      return null
    }
    const verified: VerifiedCertificate = checked
    const held = core.peers.get(edgeIdOf(verified.certificate.memberKey))?.identity.fingerprint
    const result = core.peers.admit(verified, core.now(), announcedAt)
    if (typeof result === 'string') {
      if (result !== 'own-certificate') core.drops[result]++
      return null
    }
    if (held === undefined || !held.equals(verified.fingerprint)) this.logCertificate(result, held === undefined)
    return result
  }

  private logCertificate(peer: Peer, isNew: boolean): void {
    const c = peer.identity.certificate
    const what = isNew ? 'peer' : 'peer (new certificate)'
    this.log.info(`${what} ${formatEdgeId(peer.edgeId)} ${c.name ? `"${c.name}" ` : ''}${c.role} mac ${formatMac(c.mac)} ip ${c.ipv4?.address ?? '-'} fingerprint ${formatFingerprint(peer.identity.fingerprint)}`)
  }

  private punch(peer: Peer): void {
    const info = peer.peerInfo!
    peer.path.onPeerInfo(info.reflexive, info.candidates, this.core.now())
  }
}
