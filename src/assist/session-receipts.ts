// The receipt of an assistance session: when it ends (off, expiry, idle), the receipt lists every
// technician the session admitted (the registry's records, with what the device counted of each),
// is made with the audit log's head at that moment, signed with the device's identity key, stored
// in the state directory and handed to each connected technician through the device's edge; what
// happened goes into the session's end record. The service calls end() before its edge stops.
import { destroyIdentity, identityFromSeed } from '../crypto/identity.js'
import type { Logger } from '../log/logger.js'
import type { Clock } from '../time/clock.js'
import type { AuditLog } from './audit-log.js'
import { issuedOf } from './authority.js'
import { MAX_RECEIPT_TECHNICIANS, signReceipt, type ReceiptEndReason, type ReceiptTechnician } from './receipt.js'
import { receiptExists, storeReceipt } from './receipt-store.js'
import type { TechnicianRecord } from './technicians.js'

/** How long the end of a session waits for technicians to confirm their copy of the receipt. */
export const RECEIPT_DELIVERY_MS = 3_000
const MAX_NAME_BYTES = 64

/** The session's end events that make a receipt, and what the receipt calls them; other ends (a failed enable) make none. */
const END_REASONS: Readonly<Record<string, ReceiptEndReason>> = { disable: 'off', expire: 'expiry', idle: 'idle' }

/** What a receipt's delivery through the device's edge reached: fingerprints that confirmed, and those that did not. */
export interface ReceiptDelivery {
  delivered: string[]
  missing: string[]
}

export interface EndingSession {
  sessionId: string
  /** ms since the epoch */
  since: number
  /** the device's identity seed (32 bytes, secret memory; the caller's to destroy) */
  identitySeed: Buffer
  /** the session's technician records, each with what the device counted of it (`traffic`) */
  technicians: readonly TechnicianRecord[]
  /** hands the receipt to every connected technician and says who confirmed (absent: no edge runs) */
  deliver?: (text: Buffer, timeoutMs: number) => Promise<ReceiptDelivery>
}

export interface SessionReceiptsDeps {
  stateDir: string
  audit: AuditLog
  clock: Clock
  log: Logger
}

export class SessionReceipts {
  constructor(private readonly deps: SessionReceiptsDeps) {}

  /**
   * The session ends by `event` while its edge still runs: the receipt (for off, expiry and idle).
   * Returns what the session's end record says of it ({} when there is none). Never throws: a
   * receipt that cannot be made or stored is logged and said in the record, and the session ends
   * all the same. A receipt made before a restart (the end was not recorded) is kept: technicians
   * may hold it.
   */
  async end(session: EndingSession, event: string): Promise<Record<string, unknown>> {
    const endedBy = END_REASONS[event]
    if (endedBy === undefined) return {}
    try {
      if (await receiptExists(this.deps.stateDir, session.sessionId)) return { receipt: { kept: 'the receipt made before the restart' } }
      return { receipt: await this.makeReceipt(session, endedBy) }
    } catch (err) {
      this.deps.log.error(`the session's receipt: ${(err as Error).message}`)
      return { receipt: { error: (err as Error).message } }
    }
  }

  private async makeReceipt(session: EndingSession, endedBy: ReceiptEndReason): Promise<Record<string, unknown>> {
    const end = this.deps.clock.now()
    const all = receiptTechnicians(session.technicians, endedBy, end)
    const listed = all.slice(0, MAX_RECEIPT_TECHNICIANS)
    const identity = identityFromSeed(session.identitySeed)
    const deviceKey = Buffer.from(identity.publicKey)
    destroyIdentity(identity)
    const { text } = signReceipt(
      {
        sessionId: session.sessionId,
        deviceKey,
        start: session.since,
        end,
        endedBy,
        technicians: listed,
        moreTechnicians: all.length - listed.length,
        auditHead: await this.deps.audit.head(),
      },
      session.identitySeed,
    )
    const path = await storeReceipt(this.deps.stateDir, session.sessionId, text)
    const delivery = session.deliver ? await session.deliver(Buffer.from(text), RECEIPT_DELIVERY_MS) : { delivered: [], missing: listed.map((t) => t.fingerprint) }
    this.deps.log.info(`session receipt in ${path}; handed to ${delivery.delivered.length} technician(s)${delivery.missing.length > 0 ? `, not confirmed by ${delivery.missing.join(', ')}` : ''}`)
    return { technicians: all.length, deliveredTo: delivery.delivered, notConfirmedBy: delivery.missing }
  }
}

/**
 * Every technician the session admitted, first admitted first: its certificate's name and
 * fingerprint, from its admission until its disconnect (or the session's end, `end`), why that
 * ended, and what the device counted of it.
 */
export function receiptTechnicians(records: readonly TechnicianRecord[], endedBy: ReceiptEndReason, end: number): ReceiptTechnician[] {
  const admitted = records.filter((r) => r.certificate !== undefined && r.certificateFingerprint !== undefined && r.admittedAt !== undefined)
  const listed = admitted.map((r): ReceiptTechnician => {
    // a disconnect by the owner ended its admission; one revoked by the session's end (a restart
    // after the revocations were saved) ended with the session
    const disconnected = r.state === 'disconnected'
    return {
      name: clampUtf8(issuedOf(Buffer.from(r.certificate!, 'base64')).certificate.name, MAX_NAME_BYTES),
      // the certificate's, as revocations, the audit log and the receipt's delivery name it
      fingerprint: r.certificateFingerprint!,
      admitted: r.admittedAt!,
      until: disconnected ? Math.max(r.since, r.admittedAt!) : end,
      left: disconnected && r.reason === 'disconnected' ? 'disconnected' : endedBy,
      firstSeen: r.traffic?.firstSeen ?? null,
      lastSeen: r.traffic?.lastSeen ?? null,
      bytesFromTechnician: r.traffic?.rxBytes ?? 0,
      bytesToTechnician: r.traffic?.txBytes ?? 0,
    }
  })
  return listed.sort((a, b) => a.admitted! - b.admitted! || a.fingerprint.localeCompare(b.fingerprint))
}

/** `text` cut to at most `max` UTF-8 bytes, never inside a character. */
function clampUtf8(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text
  let out = ''
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > max) break
    out += ch
  }
  return out
}
