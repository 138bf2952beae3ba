// Generated community secrets: what `overlan keygen` prints and the assistance service creates.
import { nanoid } from 'nanoid'

/** nanoid's alphabet has 64 symbols (6 bits each): 32 symbols carry 192 bits, above our 190-bit floor. */
export const SECRET_LENGTH = 32
export const SECRET_BITS = SECRET_LENGTH * 6

export function generateSecret(): string {
  return nanoid(SECRET_LENGTH)
}
