// The receipt side of an assistance session: while it runs, a sample of the device edge's
// technicians each PRESENCE_CHECK_MS goes into a ledger; when it ends (off, expiry, idle), the
// receipt is made with the audit log's head at that moment, signed with the device's identity key,
// stored in the state directory and handed to each connected technician through the device's
// edge; what happened goes into the session's end record. The service calls begin() when a
// session's edge runs and end() before it stops.
import { identityFromSeed, destroyIdentity } from '../crypto/identity.js'
import type { Logger } from '../log/logger.js'
import type { Clock, TimerHandle } from '../time/clock.js'
import type { AuditLog } from './audit-log.js'
import { signReceipt, type ReceiptEndReason } from './receipt.js'
import { receiptExists, storeReceipt } from './receipt-store.js'
import { TechnicianLedger, type TechnicianSample } from './technician-ledger.js'

/** How often the ledger samples the technicians (as often as the service checks presence). */
export const LEDGER_SAMPLE_MS = 1_000
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
  private ledger = new TechnicianLedger()
  private sampler: TimerHandle | null = null
  private technicians: () => readonly TechnicianSample[] = () => []

  constructor(private readonly deps: SessionReceiptsDeps) {}

  /** A session's edge runs (enabled, or resumed after a restart): sample `technicians` from now on. */
  begin(technicians: () => readonly TechnicianSample[]): void {
    this.sampler?.cancel()
    this.ledger = new TechnicianLedger()
    this.technicians = technicians
    this.sampler = this.deps.clock.every(LEDGER_SAMPLE_MS, () => this.sample())
  }

  /**
   * The session ends by `event` while its edge still runs: a last sample, then the receipt (for
   * off, expiry and idle). Returns what the session's end record says of it ({} when there is
   * none). Never throws: a receipt that cannot be made or stored is logged and said in the record,
   * and the session ends all the same. A receipt made before a restart (the end was not recorded)
   * is kept: technicians may hold it.
   */
  async end(session: EndingSession, event: string): Promise<Record<string, unknown>> {
    this.sample()
    this.sampler?.cancel()
    this.sampler = null
    this.technicians = () => []
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
    const { listed, more } = this.ledger.technicians()
    const identity = identityFromSeed(session.identitySeed)
    const deviceKey = Buffer.from(identity.publicKey)
    destroyIdentity(identity)
    const { text } = signReceipt(
      {
        sessionId: session.sessionId,
        deviceKey,
        start: session.since,
        end: this.deps.clock.now(),
        endedBy,
        technicians: listed.map((t) => ({ ...t, name: clampUtf8(t.name, MAX_NAME_BYTES) })),
        moreTechnicians: more,
        auditHead: await this.deps.audit.head(),
      },
      session.identitySeed,
    )
    const path = await storeReceipt(this.deps.stateDir, session.sessionId, text)
    const delivery = session.deliver ? await session.deliver(Buffer.from(text), RECEIPT_DELIVERY_MS) : { delivered: [], missing: listed.map((t) => t.fingerprint) }
    this.deps.log.info(`session receipt in ${path}; handed to ${delivery.delivered.length} technician(s)${delivery.missing.length > 0 ? `, not confirmed by ${delivery.missing.join(', ')}` : ''}`)
    return { technicians: listed.length + more, deliveredTo: delivery.delivered, notConfirmedBy: delivery.missing }
  }

  private sample(): void {
    this.ledger.observe(this.deps.clock.now(), this.technicians())
  }
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
