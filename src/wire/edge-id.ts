// Edge IDs: 53-bit numbers on the wire as u64, so that the hot path can key maps by a plain
// number instead of allocating a string or BigInt per packet. Shown as 14 hex digits.

export const BROADCAST_ID = 0

export function formatEdgeId(id: number): string {
  return id.toString(16).padStart(14, '0')
}

export function parseEdgeId(text: string): number | null {
  if (!/^[0-9a-f]{1,14}$/.test(text)) return null
  const id = parseInt(text, 16)
  return id > 0 && Number.isSafeInteger(id) ? id : null
}
