// Receipts between edges (SESSION_DATA kind 5, src/wire/receipt-part.ts). The device's edge hands
// its end-of-session receipt to each peer: every piece, again every RESEND_MS to the peers that have
// not said "received", until all have or the time given is up. A technician's edge puts the pieces
// together (one transfer per peer at a time, bounded in size) and hands each whole receipt up once;
// whoever listens checks the signature against the sending peer's key and saves it.
import { randomBytes } from 'node:crypto'
import { formatFingerprint } from '../crypto/identity.js'
import type { Clock, TimerHandle } from '../time/clock.js'
import { decodeReceiptPart, encodeReceiptPieces, encodeReceiptReceived, type ReceiptPart } from '../wire/receipt-part.js'
import type { Peer } from './peers.js'
import type { EdgeReason } from './reasons.js'

/** Pieces go again this often to a peer that has not confirmed (a lost datagram costs this long). */
export const RESEND_MS = 250
/** Whole receipts one peer may hand us (it keeps a session with us): more are refused, so a member cannot flood the receipt directory. */
export const MAX_RECEIPTS_PER_PEER = 4
const FINISHED_KEPT = 8

/** Who sent a receipt: the peer's key (which must have signed it), fingerprint and certificate name. */
export interface ReceiptSender {
  publicKey: Buffer
  fingerprint: string
  name: string
}

export interface ReceiptDeliveryResult {
  /** fingerprints of the peers that confirmed */
  delivered: string[]
  missing: string[]
}

export interface ReceiptTransferDeps {
  clock: Clock
  /** a kind-5 payload to one peer through its session (lost when it is not ready: sent again) */
  send(peer: Peer, payload: Buffer): void
  drops: Record<EdgeReason, number>
  /** a whole receipt from a peer */
  received(text: Buffer, from: ReceiptSender): void
}

interface Outgoing {
  transferId: number
  pieces: Buffer[]
  waiting: Map<number, Peer>
  delivered: string[]
  resend: TimerHandle
  deadline: TimerHandle
  done: (result: ReceiptDeliveryResult) => void
}

interface Incoming {
  transferId: number
  count: number
  /** emptied once handed up */
  pieces: (Buffer | null)[]
  have: number
  /** handed up already: later pieces of it are only confirmed again */
  complete: boolean
}

export class ReceiptTransfer {
  private readonly outgoing = new Set<Outgoing>()
  /** by peer edge ID: the transfer being put together (or the last one completed) */
  private readonly incoming = new Map<number, Incoming>()
  private readonly handedUp = new Map<number, number>()
  /** our last transfers' IDs: a "received" for one of them repeats one we had (one per piece that came after the last) */
  private readonly finished: number[] = []

  constructor(private readonly deps: ReceiptTransferDeps) {}

  /** Hands `text` to every one of `peers`; resolves when all confirmed or after `timeoutMs`. */
  deliver(peers: Peer[], text: Buffer, timeoutMs: number): Promise<ReceiptDeliveryResult> {
    if (peers.length === 0) return Promise.resolve({ delivered: [], missing: [] })
    const transferId = randomBytes(4).readUInt32BE(0) || 1
    const pieces = encodeReceiptPieces(transferId, text)
    return new Promise((resolve) => {
      const clock = this.deps.clock
      const transfer: Outgoing = {
        transferId,
        pieces,
        waiting: new Map(peers.map((p) => [p.edgeId, p])),
        delivered: [],
        resend: clock.every(RESEND_MS, () => this.sendPieces(transfer)),
        deadline: clock.after(timeoutMs, () => this.finish(transfer)),
        done: resolve,
      }
      this.outgoing.add(transfer)
      this.sendPieces(transfer)
    })
  }

  /** A kind-5 payload from `peer` (a view of a reused buffer: copied before it is kept). */
  receive(peer: Peer, payload: Buffer): void {
    const decoded = decodeReceiptPart(payload)
    if (!decoded.ok) {
      this.deps.drops[decoded.reason]++
      return
    }
    const part = decoded.value
    if (part.part === 'received') this.confirmed(peer, part)
    else this.piece(peer, part)
  }

  /** Stops every delivery (the edge stops): what was not confirmed is missing. */
  close(): void {
    for (const transfer of [...this.outgoing]) this.finish(transfer)
    this.incoming.clear()
  }

  /** A peer left: its half-received receipt goes. */
  peerRemoved(peer: Peer): void {
    this.incoming.delete(peer.edgeId)
  }

  private sendPieces(transfer: Outgoing): void {
    for (const peer of transfer.waiting.values()) for (const piece of transfer.pieces) this.deps.send(peer, piece)
  }

  private confirmed(peer: Peer, part: ReceiptPart): void {
    for (const transfer of this.outgoing) {
      if (transfer.transferId !== part.transferId) continue
      // a peer that confirmed already says it again for each piece that came after its last
      if (!transfer.waiting.delete(peer.edgeId)) return
      transfer.delivered.push(formatFingerprint(peer.identity.fingerprint))
      if (transfer.waiting.size === 0) this.finish(transfer)
      return
    }
    if (!this.finished.includes(part.transferId)) this.deps.drops['receipt-refused']++
  }

  private piece(peer: Peer, part: ReceiptPart): void {
    let incoming = this.incoming.get(peer.edgeId)
    if (incoming?.transferId !== part.transferId) {
      if ((this.handedUp.get(peer.edgeId) ?? 0) >= MAX_RECEIPTS_PER_PEER) {
        this.deps.drops['receipt-refused']++
        return
      }
      // a new transfer replaces one this peer left unfinished
      incoming = { transferId: part.transferId, count: part.count, pieces: new Array<Buffer | null>(part.count).fill(null), have: 0, complete: false }
      this.incoming.set(peer.edgeId, incoming)
    }
    if (incoming.count !== part.count) {
      this.deps.drops['bad-receipt-part']++
      return
    }
    if (!incoming.complete && incoming.pieces[part.index] === null) {
      incoming.pieces[part.index] = Buffer.from(part.bytes)
      incoming.have++
    }
    if (incoming.have < part.count) return
    // every piece again after the receipt: our "received" was lost, say it again
    this.deps.send(peer, encodeReceiptReceived(part.transferId, part.count, part.totalLength))
    if (incoming.complete) return
    incoming.complete = true
    const text = Buffer.concat(incoming.pieces as Buffer[])
    incoming.pieces = []
    this.handedUp.set(peer.edgeId, (this.handedUp.get(peer.edgeId) ?? 0) + 1)
    this.deps.received(text, { publicKey: Buffer.from(peer.identity.certificate.memberKey), fingerprint: formatFingerprint(peer.identity.fingerprint), name: peer.identity.certificate.name })
  }

  private finish(transfer: Outgoing): void {
    if (!this.outgoing.delete(transfer)) return
    this.finished.push(transfer.transferId)
    if (this.finished.length > FINISHED_KEPT) this.finished.shift()
    transfer.resend.cancel()
    transfer.deadline.cancel()
    transfer.done({ delivered: transfer.delivered, missing: [...transfer.waiting.values()].map((p) => formatFingerprint(p.identity.fingerprint)) })
  }
}
