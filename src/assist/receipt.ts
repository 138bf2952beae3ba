// The signed end-of-session receipt: what the device says happened in an assistance session (who,
// when, how much, why it ended, and the audit log's head at the end), signed with the device's
// identity key. Technicians keep a copy, so a later rewrite of the device's audit log disagrees with
// a receipt held by someone else (receipt-audit.ts checks one against the other).
//
// The file is JSON with its fields in one fixed order and two-space indentation; the signature
// covers the same encoding without the `signature` field. A receipt verifies only when its bytes are
// exactly the encoding of what they decode to, so every byte of it counts: an edited value, an
// added space, a re-encoded base64 or an upper-case hex digit all fail, never just "look the same".
import sodium from 'sodium-native'
import { destroyIdentity, identityFromSeed, isValidPublicKey, keyFingerprint } from '../crypto/identity.js'
import { sign, verify } from '../crypto/sign.js'
import { MAX_RECEIPT_BYTES } from '../wire/receipt-part.js'

//
// Format 2 lists every technician the owner (or "auto") admitted, from the session's registry: when
// it was admitted, until when, and why that ended (disconnected by the owner, or the session's own
// end); first and last seen are null for one the device never heard from. Format 1 (overlan 0.3)
// listed the technicians the device's edge heard, without admission times: still verified.
export const RECEIPT_FORMAT = 'overlan-session-receipt-2'
export const RECEIPT_FORMAT_1 = 'overlan-session-receipt-1'
/** Why a session ended, as the receipt names it: switched off by the owner, reached its end time, or no technician traffic for idleMinutes. */
export const RECEIPT_END_REASONS = ['off', 'expiry', 'idle'] as const
export type ReceiptEndReason = (typeof RECEIPT_END_REASONS)[number]
/** Why a technician's admission ended (format 2): the owner disconnected it, or the session ended (how). */
export const RECEIPT_LEFT_REASONS = ['disconnected', ...RECEIPT_END_REASONS] as const
export type ReceiptLeftReason = (typeof RECEIPT_LEFT_REASONS)[number]
/**
 * Technicians listed by name at most; more are counted in `moreTechnicians`. A session admits at
 * most 10 at once; 32 leaves room for comings and goings and keeps the receipt within what one
 * delivery to a technician carries (MAX_RECEIPT_BYTES).
 */
export const MAX_RECEIPT_TECHNICIANS = 32
/** The largest receipt file (what one delivery carries): 32 technicians with 64-byte names fit in about 11 KB. */
export { MAX_RECEIPT_BYTES }
const MAX_NAME_BYTES = 64
const MAX_SESSION_ID_BYTES = 64

export interface ReceiptTechnician {
  /** the name its certificate gives (as the audit log records it) */
  name: string
  /** its identity key's fingerprint (32 base32 symbols) */
  fingerprint: string
  /** format 2: ms since the epoch when it was admitted, until when (its disconnect, or the session's end), and why that ended */
  admitted?: number
  until?: number
  left?: ReceiptLeftReason
  /** ms since the epoch; null (format 2): the device never heard from it */
  firstSeen: number | null
  lastSeen: number | null
  /** frame bytes the device received from it and sent to it */
  bytesFromTechnician: number
  bytesToTechnician: number
}

export interface AuditHead {
  /** the record number of the log's last record when the receipt was made */
  seq: number
  /** BLAKE2b-256 of that record's line, hex: the chain's head (audit-log.ts hashLine) */
  hash: string
}

export interface ReceiptBody {
  /** RECEIPT_FORMAT (absent: that) or RECEIPT_FORMAT_1 (a receipt of overlan 0.3, as decoded) */
  format?: typeof RECEIPT_FORMAT | typeof RECEIPT_FORMAT_1
  sessionId: string
  /** the device's identity public key (32 bytes), which signs */
  deviceKey: Buffer
  start: number
  end: number
  endedBy: ReceiptEndReason
  technicians: ReceiptTechnician[]
  /** technicians beyond MAX_RECEIPT_TECHNICIANS, counted and not named */
  moreTechnicians: number
  auditHead: AuditHead
}

export interface Receipt extends ReceiptBody {
  signature: Buffer
}

/** The canonical text of a receipt: the file's exact bytes (signature given) or what is signed (signature null). */
export function encodeReceipt(body: ReceiptBody, signature: Buffer | null): string {
  const format = body.format ?? RECEIPT_FORMAT
  const json: Record<string, unknown> = {
    receipt: format,
    sessionId: body.sessionId,
    deviceKey: body.deviceKey.toString('base64'),
    // derived from the key: there for people to compare with the console's and the join token's
    deviceFingerprint: keyFingerprint(body.deviceKey),
    start: iso(body.start),
    end: iso(body.end),
    endedBy: body.endedBy,
    technicians: body.technicians.map((t) => ({
      name: t.name,
      fingerprint: t.fingerprint,
      ...(format === RECEIPT_FORMAT ? { admitted: isoOrNull(t.admitted), until: isoOrNull(t.until), left: t.left ?? null } : {}),
      firstSeen: isoOrNull(t.firstSeen),
      lastSeen: isoOrNull(t.lastSeen),
      bytesFromTechnician: t.bytesFromTechnician,
      bytesToTechnician: t.bytesToTechnician,
    })),
    moreTechnicians: body.moreTechnicians,
    auditHead: { seq: body.auditHead.seq, hash: body.auditHead.hash },
  }
  if (signature !== null) json.signature = signature.toString('base64')
  return JSON.stringify(json, null, 2) + '\n'
}

/** Signs a receipt with the device's identity seed (32 bytes; the caller keeps and destroys it). */
export function signReceipt(body: ReceiptBody, identitySeed: Buffer): { receipt: Receipt; text: string } {
  const identity = identityFromSeed(identitySeed)
  try {
    if (!identity.publicKey.equals(body.deviceKey)) throw new Error('the receipt names another device key than the one signing it')
    checkBody(body)
    const signature = sign('receipt', Buffer.from(encodeReceipt(body, null)), identity.secretKey)
    const receipt = { ...body, signature }
    return { receipt, text: encodeReceipt(body, signature) }
  } finally {
    destroyIdentity(identity)
  }
}

export type ReceiptCheck = { ok: true; receipt: Receipt } | { ok: false; reason: string }

/**
 * Checks a receipt's text: its form, that it is exactly its own canonical encoding, and its
 * signature by the key inside it. `expectedKey`: a fingerprint it must also be signed by (the
 * device's, from the join token or the console). Never throws: a refusal is one line.
 */
export function verifyReceipt(text: string, expectedKey?: string): ReceiptCheck {
  if (Buffer.byteLength(text) > MAX_RECEIPT_BYTES) return { ok: false, reason: `larger than ${MAX_RECEIPT_BYTES} bytes: not a receipt` }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { ok: false, reason: 'not valid JSON (the file was cut or edited)' }
  }
  const decoded = decodeReceipt(json)
  if (!decoded.ok) return decoded
  const receipt = decoded.receipt
  if (encodeReceipt(receipt, receipt.signature) !== text) return { ok: false, reason: 'not in the form the device wrote it (a value, a space or a line was changed)' }
  if (!verify('receipt', Buffer.from(encodeReceipt(receipt, null)), receipt.signature, receipt.deviceKey)) return { ok: false, reason: 'signature bad: the receipt was changed after the device signed it' }
  const fingerprint = keyFingerprint(receipt.deviceKey)
  if (expectedKey !== undefined && expectedKey.trim().toLowerCase() !== fingerprint) return { ok: false, reason: `signed by the device key ${fingerprint}, not by ${expectedKey.trim()}` }
  return { ok: true, receipt }
}

/** A parsed JSON value as a Receipt, field by field; a refusal names the field. */
function decodeReceipt(json: unknown): ReceiptCheck {
  const fail = (field: string, what: string): ReceiptCheck => ({ ok: false, reason: `${field}: ${what}` })
  if (!isObject(json)) return { ok: false, reason: 'not a JSON object' }
  if (json.receipt !== RECEIPT_FORMAT && json.receipt !== RECEIPT_FORMAT_1) return fail('receipt', `not "${RECEIPT_FORMAT}" (not an overlan session receipt, or a newer format)`)
  const format = json.receipt === RECEIPT_FORMAT_1 ? RECEIPT_FORMAT_1 : RECEIPT_FORMAT
  if (typeof json.sessionId !== 'string' || json.sessionId === '' || Buffer.byteLength(json.sessionId) > MAX_SESSION_ID_BYTES) return fail('sessionId', `a string of 1 to ${MAX_SESSION_ID_BYTES} bytes`)
  const deviceKey = typeof json.deviceKey === 'string' ? Buffer.from(json.deviceKey, 'base64') : null
  if (deviceKey === null || !isValidPublicKey(deviceKey)) return fail('deviceKey', 'not a 32-byte public key in base64')
  const start = time(json.start)
  const end = time(json.end)
  if (start === null) return fail('start', 'not an ISO time')
  if (end === null || end < start) return fail('end', 'not an ISO time at or after start')
  if (!RECEIPT_END_REASONS.includes(json.endedBy as ReceiptEndReason)) return fail('endedBy', `one of ${RECEIPT_END_REASONS.join(', ')}`)
  if (!Array.isArray(json.technicians) || json.technicians.length > MAX_RECEIPT_TECHNICIANS) return fail('technicians', `a list of at most ${MAX_RECEIPT_TECHNICIANS}`)
  const technicians: ReceiptTechnician[] = []
  for (const [i, t] of (json.technicians as unknown[]).entries()) {
    const field = `technicians[${i}]`
    if (!isObject(t)) return fail(field, 'not an object')
    if (typeof t.name !== 'string' || Buffer.byteLength(t.name) > MAX_NAME_BYTES) return fail(`${field}.name`, `a string of at most ${MAX_NAME_BYTES} bytes`)
    if (typeof t.fingerprint !== 'string' || !/^[a-z2-7]{32}$/.test(t.fingerprint)) return fail(`${field}.fingerprint`, 'not a key fingerprint')
    const firstSeen = time(t.firstSeen)
    const lastSeen = time(t.lastSeen)
    // format 2: a technician never heard from has neither; format 1 listed only those heard
    const unheard = format === RECEIPT_FORMAT && t.firstSeen === null && t.lastSeen === null
    if (!unheard && (firstSeen === null || lastSeen === null || lastSeen < firstSeen)) return fail(`${field}.lastSeen`, `firstSeen and lastSeen: ISO times, in order${format === RECEIPT_FORMAT ? ' (or both null)' : ''}`)
    if (!isCount(t.bytesFromTechnician) || !isCount(t.bytesToTechnician)) return fail(`${field}.bytes`, 'byte counts: whole numbers ≥ 0')
    const seen = { firstSeen, lastSeen, bytesFromTechnician: t.bytesFromTechnician, bytesToTechnician: t.bytesToTechnician }
    if (format === RECEIPT_FORMAT_1) {
      technicians.push({ name: t.name, fingerprint: t.fingerprint, ...seen })
      continue
    }
    const admitted = time(t.admitted)
    const until = time(t.until)
    if (admitted === null || until === null || until < admitted) return fail(`${field}.until`, 'admitted and until: ISO times, in order')
    if (!RECEIPT_LEFT_REASONS.includes(t.left as ReceiptLeftReason)) return fail(`${field}.left`, `one of ${RECEIPT_LEFT_REASONS.join(', ')}`)
    technicians.push({ name: t.name, fingerprint: t.fingerprint, admitted, until, left: t.left as ReceiptLeftReason, ...seen })
  }
  if (!isCount(json.moreTechnicians)) return fail('moreTechnicians', 'a whole number ≥ 0')
  const head = json.auditHead
  if (!isObject(head) || !Number.isSafeInteger(head.seq) || (head.seq as number) < 0 || typeof head.hash !== 'string' || !/^[0-9a-f]{64}$/.test(head.hash)) return fail('auditHead', 'a record number and a 64-digit hex hash')
  const signature = typeof json.signature === 'string' ? Buffer.from(json.signature, 'base64') : null
  if (signature === null || signature.length !== sodium.crypto_sign_BYTES) return fail('signature', `not ${sodium.crypto_sign_BYTES} bytes in base64`)
  return {
    ok: true,
    receipt: { format, sessionId: json.sessionId, deviceKey, start, end, endedBy: json.endedBy as ReceiptEndReason, technicians, moreTechnicians: json.moreTechnicians, auditHead: { seq: head.seq as number, hash: head.hash }, signature },
  }
}

/** What signReceipt refuses to sign: anything verifyReceipt would refuse. */
function checkBody(body: ReceiptBody): void {
  const check = decodeReceipt(JSON.parse(encodeReceipt(body, Buffer.alloc(sodium.crypto_sign_BYTES))))
  if (!check.ok) throw new RangeError(`cannot make a receipt: ${check.reason}`)
}

/** The receipt in a few lines for people: who, when, why, how much. */
export function describeReceipt(receipt: Receipt): string[] {
  const lines = [
    `session ${receipt.sessionId} on the device with key ${keyFingerprint(receipt.deviceKey)}`,
    `from ${iso(receipt.start)} to ${iso(receipt.end)}, ended: ${receipt.endedBy}`,
  ]
  if (receipt.technicians.length === 0) lines.push('no technician connected')
  for (const t of receipt.technicians) {
    const admitted = t.admitted !== undefined && t.until !== undefined ? `admitted ${iso(t.admitted)} until ${iso(t.until)} (${t.left === 'disconnected' ? 'disconnected by the owner' : `session ended: ${t.left}`}), ` : ''
    const seen = t.firstSeen !== null && t.lastSeen !== null ? `heard ${iso(t.firstSeen)} to ${iso(t.lastSeen)}` : 'never heard'
    lines.push(`technician ${JSON.stringify(t.name)} (${t.fingerprint}): ${admitted}${seen}, ${t.bytesFromTechnician} bytes from it, ${t.bytesToTechnician} bytes to it`)
  }
  if (receipt.moreTechnicians > 0) lines.push(`and ${receipt.moreTechnicians} more technicians, not named`)
  lines.push(`audit log head: record ${receipt.auditHead.seq}, hash ${receipt.auditHead.hash}`)
  return lines
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function isoOrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : iso(ms)
}

/** An ISO time as the encoder writes it (whole ms, Z), as ms; null otherwise (the canonical check catches other spellings). */
function time(value: unknown): number | null {
  if (typeof value !== 'string') return null
  const ms = Date.parse(value)
  return Number.isFinite(ms) ? ms : null
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
