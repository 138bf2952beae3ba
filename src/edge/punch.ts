// Hole punching toward one peer: PROBE every candidate endpoint on a schedule that starts fast and
// backs off; the first authenticated PROBE_ACK makes the path direct (the caller handles that).
// While direct, a PROBE every DIRECT_KEEPALIVE_MS holds both NAT mappings open and measures RTT;
// a direct path quiet for DIRECT_QUIET_MS becomes suspect (frames take the relay, probes go out
// every SUSPECT_PROBE_MS), and one silent for DIRECT_TIMEOUT_MS falls back to the relay.
import { PacketType, PROBE_PAYLOAD_BYTES, writeProbePayload } from '../wire/index.js'
import type { Transport } from '../net/transport.js'
import { hasDirectEndpoint, type PathEvent } from './path.js'
import type { Peer } from './peers.js'
import type { SealedSender } from './sealed-sender.js'

/** Delay before each probe round after the first: ~6 s of trying in all. */
export const PUNCH_SCHEDULE_MS = [100, 100, 200, 400, 800, 1600, 3200]
/**
 * IP TTL of the first rounds, one hop further each time (hyperdht's idea, as a ladder). A probe
 * that reaches the far NAT before that side has sent creates a conntrack entry there which forces
 * the far side's own mapping onto another port (Linux MASQUERADE; n2n stays on the relay because
 * of it). A low TTL opens our own NAT(s) and dies on the way; when both sides climb the ladder
 * together, every NAT has its own mapping by the time the other side's probes get that far.
 * Later rounds use the default TTL.
 */
export const PUNCH_TTLS = [2, 3, 4, 5]
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
export const DIRECT_TIMEOUT_MS = 15_000
/** after punching gave up or a direct path died, ask the supernode again (fresh endpoints) this much later */
export const PUNCH_RETRY_MS = 30_000

export class Puncher {
  private readonly payload = Buffer.alloc(PROBE_PAYLOAD_BYTES)
  probesSent = 0

  constructor(private readonly sender: SealedSender) {}

  /** Starts (or restarts) a round of probing now. */
  start(peer: Peer, now: number): void {
    peer.punchRound = 0
    this.probeAll(peer, now)
  }

  /**
   * Sends what is due for this peer. Returns the path event the caller must apply, if any:
   * 'punch-exhausted' after the last round, 'direct-quiet' and then 'direct-silent' for a direct
   * path that stopped answering.
   */
  tick(peer: Peer, now: number): Extract<PathEvent, 'punch-exhausted' | 'direct-quiet' | 'direct-silent'> | null {
    if (peer.path === 'punching' && now >= peer.nextProbeAt) {
      if (peer.punchRound >= PUNCH_SCHEDULE_MS.length) return 'punch-exhausted'
      this.probeAll(peer, now)
    } else if (hasDirectEndpoint(peer.path) && peer.direct !== null) {
      const quietMs = now - peer.lastDirectRx
      if (quietMs >= DIRECT_TIMEOUT_MS) return 'direct-silent'
      const event = peer.path === 'direct' && quietMs >= DIRECT_QUIET_MS ? 'direct-quiet' : null
      if (event !== null) peer.nextProbeAt = now
      if (now >= peer.nextProbeAt) {
        this.probe(peer, peer.direct.address, peer.direct.port, now, 0, peer.directVia)
        peer.nextProbeAt = now + (event !== null || peer.path === 'suspect' ? SUSPECT_PROBE_MS : DIRECT_KEEPALIVE_MS)
      }
      return event
    }
    return null
  }

  /** A probe to one endpoint at once (a new peer-reflexive candidate, say). */
  probe(peer: Peer, address: string, port: number, now: number, ttl = 0, via: Transport | null = null): void {
    this.probesSent++
    this.sender.send(PacketType.Probe, peer.edgeId, writeProbePayload(this.payload, now), address, port, ttl, via)
  }

  private probeAll(peer: Peer, now: number): void {
    const ttl = PUNCH_TTLS[peer.punchRound] ?? 0
    for (const candidate of peer.candidates) this.probe(peer, candidate.address, candidate.port, now, ttl)
    peer.nextProbeAt = now + (PUNCH_SCHEDULE_MS[peer.punchRound] ?? 0)
    peer.punchRound++
  }
}
