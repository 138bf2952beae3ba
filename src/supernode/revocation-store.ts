// The revocations a supernode knows, per community, each kept until the revoked certificate's
// notAfter (past it the certificate is refused as expired anyway). A REGISTER with a revoked
// certificate is refused and a registered edge holding one is removed (supernode.ts).
//
// Bounded in all by MAX_REVOCATIONS (every community together, 4,096 × ~150 B ≈ 600 KiB). Anyone
// can make an authority of their own (a fresh community) and sign revocations for it, so the
// bound must not let one community crowd out another: when the store is full, a revocation for a
// community is kept by dropping one from the community that holds the most, as long as that one
// holds at least two more; otherwise it is refused ('full', counted). An authority with a handful
// of technicians to revoke therefore always gets its revocations in, unless thousands of
// communities each hold as many as it does. A dropped revocation only ever concerns the community
// that hoarded them (its own certificates come back to life).
import { MAX_REVOCATIONS } from '../crypto/revocation.js'

export type RevocationStored = 'added' | 'known' | 'outlived' | 'full'

export class RevocationStore {
  /** community ID (hex) → revoked certificate fingerprint (hex) → that certificate's notAfter */
  private readonly byCommunity = new Map<string, Map<string, number>>()
  private total = 0

  constructor(private readonly max = MAX_REVOCATIONS) {}

  /** Revocations kept, every community together. */
  get size(): number {
    return this.total
  }

  /** Keeps a verified revocation; 'known' when it is kept already (nothing to tell anyone). */
  add(community: string, fingerprint: string, notAfter: number, nowSeconds: number): RevocationStored {
    if (notAfter <= nowSeconds) return 'outlived'
    const list = this.byCommunity.get(community)
    if (list?.has(fingerprint)) return 'known'
    if (this.total >= this.max && this.prune(nowSeconds) === 0 && !this.makeRoomFor(list?.size ?? 0)) return 'full'
    if (list === undefined) this.byCommunity.set(community, new Map([[fingerprint, notAfter]]))
    else list.set(fingerprint, notAfter)
    this.total++
    return 'added'
  }

  isRevoked(community: string, fingerprint: string): boolean {
    return this.byCommunity.get(community)?.has(fingerprint) === true
  }

  /** Forgets the revocations whose certificates have ended; returns how many. */
  prune(nowSeconds: number): number {
    let removed = 0
    for (const [community, list] of this.byCommunity) {
      for (const [fingerprint, notAfter] of list) {
        if (notAfter > nowSeconds) continue
        list.delete(fingerprint)
        removed++
      }
      if (list.size === 0) this.byCommunity.delete(community)
    }
    this.total -= removed
    return removed
  }

  /** Drops the soonest-ending revocation of the community holding the most, if it holds at least two more than `holding`. */
  private makeRoomFor(holding: number): boolean {
    let largest: [string, Map<string, number>] | null = null
    for (const entry of this.byCommunity) if (largest === null || entry[1].size > largest[1].size) largest = entry
    if (largest === null || largest[1].size < holding + 2) return false
    const [community, list] = largest
    let soonest: string | null = null
    let soonestEnd = Infinity
    for (const [fingerprint, notAfter] of list) {
      if (notAfter < soonestEnd) {
        soonest = fingerprint
        soonestEnd = notAfter
      }
    }
    list.delete(soonest!)
    if (list.size === 0) this.byCommunity.delete(community)
    this.total--
    return true
  }
}
