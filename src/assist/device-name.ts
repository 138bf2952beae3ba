// The device's display name (`overlan assist --device-name`): what a technician is told it joins
// (the join token, its certificate) and what the console shows. It travels in a certificate and a
// token, both of which hold at most 64 bytes of text, and it is shown to people: printable only.
import { MAX_DEVICE_NAME_BYTES } from './join-token.js'

export { MAX_DEVICE_NAME_BYTES }

/** C0 and C1 controls, DEL, and the Unicode line and paragraph separators: they would break a line shown to people. */
// eslint-disable-next-line no-control-regex
const NOT_PRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/

/** Why `name` cannot be the device's name, or null when it can. */
export function deviceNameProblem(name: string): string | null {
  if (name.trim() === '') return 'empty'
  if (Buffer.byteLength(name) > MAX_DEVICE_NAME_BYTES) return `${Buffer.byteLength(name)} bytes of UTF-8, more than ${MAX_DEVICE_NAME_BYTES}`
  if (NOT_PRINTABLE.test(name)) return 'it holds a control character'
  return null
}

/** `name` in quotes for a one-line message: JSON's escapes, and the characters JSON leaves as they are but a terminal breaks a line on. */
export function quotedName(name: string): string {
  return JSON.stringify(name).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** The host's name when it can be the device's, else `fallback` (a host name is at most 64 bytes on Linux, but is not checked there for this). */
export function defaultDeviceName(hostName: string, fallback: string): string {
  return deviceNameProblem(hostName) === null ? hostName : fallback
}
