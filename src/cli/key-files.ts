// Reading and writing the CLI's key, certificate and revocation files (armored lines, see
// src/crypto/armor.ts). Secret files are made 0600 and refused when group or others may touch them,
// as ssh does: a key that others could read is a key to replace, not to use. Nothing is overwritten.
import { closeSync, fchmodSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import { unarmor, type ArmorKind } from '../crypto/armor.js'
import { identityFromSeed, isValidPublicKey, PUBLIC_KEY_BYTES, SEED_BYTES, type Identity } from '../crypto/identity.js'
import { destroySecret, secretBuffer } from '../crypto/secure-memory.js'
import { CliError } from './errors.js'

/** Far above any armored line we write (a certificate is ~340 symbols): more is not our file. */
const MAX_FILE_BYTES = 4096
export const SECRET_FILE_MODE = 0o600
export const PUBLIC_FILE_MODE = 0o644

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message
}

/** The bytes of an armored file of `kind`; for a secret kind, in secret memory, and only from a file that is 0600 or stricter. */
export function readArmoredFile(option: string, path: string, kind: ArmorKind, secret: boolean): Buffer {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (err) {
    throw new CliError(`${option}: cannot read ${path}: ${errorCode(err)}`)
  }
  // the file's bytes go to secret memory for a secret kind: they hold the key in base64
  const text = secret ? secretBuffer(MAX_FILE_BYTES + 1) : Buffer.alloc(MAX_FILE_BYTES + 1)
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw new CliError(`${option}: ${path} is not a file`)
    if (secret && (stat.mode & 0o077) !== 0) {
      throw new CliError(`${option}: ${path} is accessible by group or others (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}): run chmod 600 ${path}, or make a new key if others may have read it`)
    }
    let length = 0
    for (;;) {
      const n = readSync(fd, text, length, text.length - length, null)
      length += n
      if (n === 0 || length === text.length) break
    }
    if (length > MAX_FILE_BYTES) throw new CliError(`${option}: ${path} is larger than ${MAX_FILE_BYTES} bytes: not an overlan file`)
    const result = unarmor(kind, text.subarray(0, length))
    if (!result.ok) throw new CliError(`${option}: ${path}: ${result.problem}`)
    return result.bytes
  } catch (err) {
    if (err instanceof CliError) throw err
    throw new CliError(`${option}: cannot read ${path}: ${errorCode(err)}`)
  } finally {
    destroySecret(text)
    closeSync(fd)
  }
}

/** An identity (or authority) key pair from its secret file. */
export function readIdentityFile(option: string, path: string, kind: 'identity' | 'authority' = 'identity'): Identity {
  const seed = readArmoredFile(option, path, kind, true)
  try {
    if (seed.length !== SEED_BYTES) throw new CliError(`${option}: ${path} holds ${seed.length} bytes, not a ${SEED_BYTES}-byte key`)
    return identityFromSeed(seed)
  } finally {
    destroySecret(seed)
  }
}

/** A public key from a .pub file. */
export function readPublicKeyFile(option: string, path: string): Buffer {
  const key = readArmoredFile(option, path, 'publicKey', false)
  if (key.length !== PUBLIC_KEY_BYTES || !isValidPublicKey(key)) throw new CliError(`${option}: ${path} does not hold an Ed25519 public key`)
  return key
}

/** Creates `path` with `bytes` and `mode`; refuses (one line naming the option) when it exists. */
export function writeNewFile(option: string, path: string, bytes: Uint8Array, mode: number): void {
  if (!createFile(option, path, bytes, mode)) throw new CliError(`${option}: ${path} exists; refusing to overwrite it`)
}

/** Creates `path` with `bytes` and `mode`; false when it exists (someone else took the name first). */
export function createFile(option: string, path: string, bytes: Uint8Array, mode: number): boolean {
  let fd: number
  try {
    fd = openSync(path, 'wx', mode)
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false
    throw new CliError(`${option}: cannot create ${path}: ${errorCode(err)}`)
  }
  try {
    // the umask may have taken bits away from a public file, never added any: set exactly what we mean
    fchmodSync(fd, mode)
    writeSync(fd, bytes)
  } finally {
    closeSync(fd)
  }
  return true
}

/**
 * Replaces `path` with `bytes` in one step (a temp file beside it, synced, then renamed over it), so a
 * reader that watches it (an edge's --revocations) sees the old content or the new, never half.
 */
export function replaceFile(option: string, path: string, bytes: Uint8Array, mode: number): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  let fd: number
  try {
    fd = openSync(temp, 'wx', mode)
  } catch (err) {
    throw new CliError(`${option}: cannot write beside ${path}: ${errorCode(err)}`)
  }
  try {
    fchmodSync(fd, mode)
    writeSync(fd, bytes)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    renameSync(temp, path)
  } catch (err) {
    unlinkSync(temp)
    throw new CliError(`${option}: cannot replace ${path}: ${errorCode(err)}`)
  }
}
