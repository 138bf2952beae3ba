// Payloads of the sealed PROBE and PROBE_ACK packets (inside the encryption).
//
//   PROBE:     probe ID (u53: the sender's clock in ms when sent, so an ACK gives the RTT)
//   PROBE_ACK: probe ID (u53, echoed) | endpoint the probe came from, as the responder saw it (19)
import { Reader, Writer, writeU53 } from './cursor.js'
import { ENDPOINT_BYTES, readEndpoint, writeEndpoint, type Endpoint } from './fields.js'
import type { Decoded } from './reasons.js'

export const PROBE_PAYLOAD_BYTES = 8
export const PROBE_ACK_PAYLOAD_BYTES = 8 + ENDPOINT_BYTES

export function writeProbePayload(out: Buffer, probeId: number): Buffer {
  writeU53(out, 0, probeId)
  return out.subarray(0, PROBE_PAYLOAD_BYTES)
}

export function encodeProbeAckPayload(probeId: number, seen: Endpoint): Buffer {
  const w = new Writer(PROBE_ACK_PAYLOAD_BYTES).u53(probeId)
  writeEndpoint(w, seen)
  return w.done()
}

export function readProbePayload(payload: Buffer): Decoded<number> {
  const r = new Reader(payload)
  const probeId = r.u53('bad-counter')
  const reason = r.finish()
  return reason === null ? { ok: true, value: probeId } : { ok: false, reason }
}

export function readProbeAckPayload(payload: Buffer): Decoded<{ probeId: number; seen: Endpoint }> {
  const r = new Reader(payload)
  const probeId = r.u53('bad-counter')
  const seen = readEndpoint(r)
  const reason = r.finish()
  return reason === null ? { ok: true, value: { probeId, seen } } : { ok: false, reason }
}
