// Where a peer might be reached: the endpoints its path (path.ts) probes while punching. Every
// one of them is an address a member of the community chose or caused (its record's LAN addresses,
// the source of a probe it sent), and every punch round sends a datagram to each: so they are few,
// chosen in order of how much we trust them, and LAN addresses only where we have a LAN.
//
// In order of preference:
//   1. the reflexive endpoint: where the supernode sees the peer (it answered the supernode's
//      cookie from there); always kept, replaced by the supernode's next word.
//   2. peer-reflexive endpoints: sources of the peer's authenticated probes (a NAT gave it a port
//      nobody could predict). Proof that the peer sent from there, recently.
//   3. LAN endpoints from the peer's signed record, only those inside one of our own subnets
//      (own-subnets.ts): anywhere else a datagram could not reach the peer on a LAN we share.
import type { Endpoint } from '../wire/index.js'
import type { OwnSubnets } from './own-subnets.js'
import { PUNCH_SCHEDULE_MS } from './punch.js'

/**
 * Candidates per peer: the reflexive endpoint, the 4 LAN addresses a record can carry
 * (wire MAX_CANDIDATES) and 3 more for peer-reflexive ones (a symmetric NAT's port toward us, and
 * the next one after the NAT moved it). A punch attempt (8 rounds) then sends at most 64 probes,
 * to at most 8 endpoints, whatever a member sends us.
 */
export const MAX_CANDIDATES_PER_PEER = 8
/**
 * A fresh attempt (new word from the supernode) keeps the peer-reflexive endpoints heard within
 * one attempt's time (the punch schedule, ~6.4 s): the peer may have started probing before the
 * supernode's word reached us. Older ones were mappings of an attempt that is over.
 */
export const PEER_REFLEXIVE_KEEP_MS = PUNCH_SCHEDULE_MS.reduce((sum, ms) => sum + ms, 0)

/** What every peer's candidates share: our subnets, and the counters of what was refused. */
export interface CandidateRules {
  readonly subnets: OwnSubnets
  readonly counters: { candidatesOverLimit: number; candidatesOffLan: number }
}

export type CandidateVerdict = 'new' | 'known' | 'refused'

export class Candidates {
  private reflexive: Endpoint | null = null
  private peerReflexive: { endpoint: Endpoint; heardAt: number }[] = []
  private lan: Endpoint[] = []
  /** the endpoints to probe, in order of preference; rebuilt on each change (punch rounds read it) */
  private list: readonly Endpoint[] = []

  constructor(private readonly rules: CandidateRules) {}

  /** Every candidate, most trusted first. */
  get all(): readonly Endpoint[] {
    return this.list
  }

  /**
   * The supernode's word on the peer (a new punch attempt): its reflexive endpoint, and the LAN
   * endpoints of its record. Peer-reflexive endpoints heard within PEER_REFLEXIVE_KEEP_MS stay, and
   * so does `keep` (the direct endpoint, when there is one); LAN endpoints fill what room is left.
   */
  fromSupernode(reflexive: Endpoint | null, lan: readonly Endpoint[], keep: Endpoint | null, now: number): void {
    this.reflexive = reflexive
    this.peerReflexive = this.peerReflexive.filter(
      (c) => (reflexive === null || !same(c.endpoint, reflexive)) && ((keep !== null && same(c.endpoint, keep)) || now - c.heardAt <= PEER_REFLEXIVE_KEEP_MS),
    )
    this.lan = []
    for (const endpoint of lan) {
      if (this.has(endpoint)) continue
      if (!this.rules.subnets.contains(endpoint.address)) this.rules.counters.candidatesOffLan++
      else if (this.size >= MAX_CANDIDATES_PER_PEER) this.rules.counters.candidatesOverLimit++
      else this.lan.push(endpoint)
    }
    this.rebuild()
  }

  /**
   * The source of an authenticated probe from the peer. 'new': a candidate now (probe it back);
   * 'known': one already; 'refused': no room (a slot is kept for the reflexive endpoint until the
   * supernode's word brings it). Nothing is replaced within an attempt: a member who sends from
   * many ports gets only the first few probed.
   */
  addPeerReflexive(endpoint: Endpoint, now: number): CandidateVerdict {
    const heard = this.peerReflexive.find((c) => same(c.endpoint, endpoint))
    if (heard !== undefined) {
      heard.heardAt = now
      return 'known'
    }
    if (this.has(endpoint)) return 'known'
    if (this.size + (this.reflexive === null ? 1 : 0) >= MAX_CANDIDATES_PER_PEER) {
      this.rules.counters.candidatesOverLimit++
      return 'refused'
    }
    this.peerReflexive.push({ endpoint, heardAt: now })
    this.rebuild()
    return 'new'
  }

  private get size(): number {
    return (this.reflexive === null ? 0 : 1) + this.peerReflexive.length + this.lan.length
  }

  private has(endpoint: Endpoint): boolean {
    return (this.reflexive !== null && same(this.reflexive, endpoint)) || this.peerReflexive.some((c) => same(c.endpoint, endpoint)) || this.lan.some((c) => same(c, endpoint))
  }

  private rebuild(): void {
    this.list = [...(this.reflexive === null ? [] : [this.reflexive]), ...this.peerReflexive.map((c) => c.endpoint), ...this.lan]
  }
}

function same(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port
}
