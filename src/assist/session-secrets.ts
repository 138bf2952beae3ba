// The assistance session's secrets while it runs: the join token (which carries the enrollment
// secret), the enrollment secret itself (the device edge's Noise PSK for requests) and the admin
// password, in secret memory for the session and zeroed when it ends. (The session authority's key
// is authority.ts's.)
// Strings are made from them only for a moment (the state file, an API answer) because a string
// cannot be zeroed; docs/SECURITY.md says what is left in the JavaScript heap.
import { destroySecret, secretMemory } from '../crypto/secure-memory.js'

export interface SessionSecretText {
  token: string
  adminPassword: string | null
  /** base64, 32 bytes */
  enrollmentSecret: string
}

export class SessionSecrets {
  private readonly token: Buffer
  private readonly adminPassword: Buffer | null
  /** the Noise PSK every technician's request is made with (32 bytes) */
  readonly enrollmentSecret: Buffer
  private destroyed = false

  constructor(text: SessionSecretText) {
    this.token = secretMemory.copyOf(text.token)
    this.adminPassword = text.adminPassword === null ? null : secretMemory.copyOf(text.adminPassword)
    const raw = Buffer.from(text.enrollmentSecret, 'base64')
    this.enrollmentSecret = secretMemory.copyOf(raw)
    destroySecret(raw)
  }

  /** The join token as text, for one answer to the API. */
  tokenText(): string {
    return this.textOf(this.token)
  }

  adminPasswordText(): string | null {
    return this.adminPassword === null ? null : this.textOf(this.adminPassword)
  }

  /** The enrollment secret as base64, for the state file. */
  enrollmentSecretText(): string {
    if (this.destroyed) throw new Error('the assistance session has ended: its secrets are destroyed')
    return this.enrollmentSecret.toString('base64')
  }

  /** Every buffer held, for tests that check they are zeroed after the session. */
  buffers(): Buffer[] {
    const texts = this.adminPassword === null ? [this.token] : [this.token, this.adminPassword]
    return [...texts, this.enrollmentSecret]
  }

  destroy(): void {
    this.destroyed = true
    for (const buf of this.buffers()) destroySecret(buf)
  }

  private textOf(buf: Buffer): string {
    if (this.destroyed) throw new Error('the assistance session has ended: its secrets are destroyed')
    return buf.toString('utf8')
  }
}
