// Hole punching's schedule and its probes. A path in `punching` (path.ts) sends a round of probes to
// every candidate endpoint on this schedule, starting fast and backing off; the first probe-ack
// authenticated by that peer's pair session makes it direct. The same probes keep a direct path's
// NAT mappings open. Probes and their answers are session packets (SessionKind.Probe, ProbeAck):
// a path starts punching once its session is ready.
import type { Transport } from '../net/transport.js'
import { PROBE_PAYLOAD_BYTES, SessionKind, writeProbePayload } from '../wire/index.js'
import type { PathOwner } from './path.js'
import type { SessionSender } from './session-sender.js'

/** Delay before each probe round after the first: ~6 s of trying in all. */
export const PUNCH_SCHEDULE_MS = [100, 100, 200, 400, 800, 1600, 3200]
/**
 * IP TTL of the first rounds, one hop further each time (hyperdht's idea, as a ladder). A probe
 * that reaches the far NAT before that side has sent creates a conntrack entry there which forces
 * the far side's own mapping onto another port (Linux MASQUERADE; n2n stays on the relay because
 * of it). A low TTL opens our own NAT(s) and dies on the way; when both sides climb the ladder
 * together, every NAT has its own mapping by the time the other side's probes get that far.
 * Later rounds use the default TTL.
 */
export const PUNCH_TTLS = [2, 3, 4, 5]

/** Sends probes: a probe's payload is the time it left, so that its answer measures the RTT. */
export class Prober {
  private readonly payload = Buffer.alloc(PROBE_PAYLOAD_BYTES)

  constructor(
    private readonly sender: SessionSender,
    private readonly counters: { probesSent: number },
  ) {}

  /**
   * A probe sealed by the peer's session. `ttl` 0: the socket's default; `via`: another socket of
   * ours (a birthday one) instead of the main one. Nothing is sent while the session is not ready.
   */
  probe(peer: PathOwner, address: string, port: number, now: number, ttl = 0, via: Transport | null = null): void {
    if (this.sender.direct(peer.session, SessionKind.Probe, writeProbePayload(this.payload, now), address, port, ttl, via) === 'sent') this.counters.probesSent++
  }
}
