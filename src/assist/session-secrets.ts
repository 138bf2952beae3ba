// The assistance session's secrets while it runs: the community key, the join token (which carries
// the key), the admin password and the device edge's identity key, in secret memory for the session
// and zeroed when it ends.
// Strings are made from them only for a moment (the state file, an API answer) because a string
// cannot be zeroed; docs/SECURITY.md says what is left in the JavaScript heap.
import { destroySecret, secretMemory } from '../crypto/secure-memory.js'

export interface SessionSecretText {
  key: string
  token: string
  adminPassword: string | null
  /** the device edge's identity seed, base64 */
  deviceIdentity: string
}

export class SessionSecrets {
  /** the community secret, as the edge derives its keys from it */
  readonly key: Buffer
  private readonly token: Buffer
  private readonly adminPassword: Buffer | null
  /** the device edge's identity seed (32 bytes): the same member after a restart of the service */
  readonly deviceIdentity: Buffer
  private destroyed = false

  constructor(text: SessionSecretText) {
    this.key = secretMemory.copyOf(text.key)
    this.token = secretMemory.copyOf(text.token)
    this.adminPassword = text.adminPassword === null ? null : secretMemory.copyOf(text.adminPassword)
    const seed = Buffer.from(text.deviceIdentity, 'base64')
    this.deviceIdentity = secretMemory.copyOf(seed)
    destroySecret(seed)
  }

  /** The join token as text, for one answer to the API. */
  tokenText(): string {
    return this.textOf(this.token)
  }

  adminPasswordText(): string | null {
    return this.adminPassword === null ? null : this.textOf(this.adminPassword)
  }

  /** Every buffer held, for tests that check they are zeroed after the session. */
  buffers(): Buffer[] {
    const texts = this.adminPassword === null ? [this.key, this.token] : [this.key, this.token, this.adminPassword]
    return [...texts, this.deviceIdentity]
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
