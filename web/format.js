// How the console writes times, countdowns, round trips and audit details: pure functions of their
// arguments (the current time included), shared by state.js and view.js.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })

/** A moment as a time of day, with its date when that is not today (`now`, ms since the epoch). */
export function formatTime(iso, now) {
  const date = new Date(iso)
  return date.toDateString() === new Date(now).toDateString() ? timeFormat.format(date) : dateTimeFormat.format(date)
}

/** The time of day `now` (ms since the epoch). */
export function formatClock(now) {
  return timeFormat.format(new Date(now))
}

/** Time left as the countdown shows it, "H:MM:SS", and its whole seconds (rounded up: 0 only at the end). */
export function formatCountdown(ms) {
  const seconds = Math.max(0, Math.ceil(ms / 1000))
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return { text: `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`, seconds }
}

/** Bytes as people read them: 1.2 kB, 3.4 MB. */
export function formatBytes(bytes) {
  if (bytes < 1000) return `${bytes} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = -1
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`
}

/** A key fingerprint as the console shows it beside a name: its first 8 symbols, in groups of 4 (the whole one is in the title). */
export function shortFingerprint(fingerprint) {
  return `${fingerprint.slice(0, 4)} ${fingerprint.slice(4, 8)}`
}

/** A round trip, with a tenth of a millisecond below 10 ms. */
export function formatMs(ms) {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`
}

/** An audit record's details as one line: "key: value · key: value". */
export function describeDetails(details) {
  return Object.entries(details)
    .map(([key, value]) => `${key}: ${describeValue(value)}`)
    .join(' · ')
}

/** A detail as one line: lists of objects (a connection test's results) as "a=1 b=2; …". */
function describeValue(value) {
  if (Array.isArray(value)) return value.map(describeValue).join('; ')
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value)
      .map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
      .join(' ')
  }
  return String(value)
}
