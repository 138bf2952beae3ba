// The supernodes an edge registers with, as both directions of the data path use them: which one
// relays (the first answering one, so that every member picks the same), which one a datagram came
// from (over UDP, or over a link's fallback stream), and the peer queries sent through the
// relaying one. Each link's registration, and the carrier it runs over, is its own state machine
// (supernode-link.ts).
import type { Transport } from '../net/transport.js'
import { encodePeerQuery, type PeerTarget } from '../wire/index.js'
import type { SupernodeLink } from './supernode-link.js'

export class Supernodes {
  constructor(
    readonly links: readonly SupernodeLink[],
    private readonly edgeId: number,
    private readonly counters: { peerQueries: number },
  ) {}

  /**
   * The link that relays: the first answering supernode in the order given; one that stopped
   * answering is skipped at once, before its registration counts as lost. Undefined while none is
   * registered. (A plain loop: this runs per relayed frame, and a closure per call would be garbage.)
   */
  relayLink(now: number): SupernodeLink | undefined {
    let fallback: SupernodeLink | undefined
    for (const link of this.links) {
      if (link.healthy(now)) return link
      if (fallback === undefined && link.registered) fallback = link
    }
    return fallback
  }

  /**
   * The supernode a datagram came from, if it came from one: by its UDP address and ports on our
   * UDP socket (`via` null), or by the fallback stream it came in on.
   */
  from(address: string, port: number, via: Transport | null = null): SupernodeLink | undefined {
    if (via === null) {
      for (const link of this.links) if (link.isFrom(address, port)) return link
    } else {
      for (const link of this.links) if (link.owns(via)) return link
    }
    return undefined
  }

  /** Asks the relaying supernode for a peer (by edge ID or MAC); nothing while none is registered. */
  query(target: PeerTarget, now: number): void {
    const link = this.relayLink(now)
    if (link === undefined) return
    this.counters.peerQueries++
    link.send(encodePeerQuery(this.edgeId, target))
  }

  get registeredCount(): number {
    let n = 0
    for (const link of this.links) if (link.registered) n++
    return n
  }

  tick(now: number): void {
    for (const link of this.links) link.tick(now)
  }
}
