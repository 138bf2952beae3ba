// How deeply a JSON text nests arrays and objects, counted on the text before it is parsed, so that
// a body built to be deep is refused before anything walks it.

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPENERS = new Set([0x5b, 0x7b]) // [ {
const CLOSERS = new Set([0x5d, 0x7d]) // ] }

/** True when `text` opens more than `limit` arrays or objects inside one another (brackets inside strings do not count). */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) {
      inString = true
    } else if (OPENERS.has(c)) {
      if (++depth > limit) return true
    } else if (CLOSERS.has(c)) {
      depth--
    }
  }
  return false
}
