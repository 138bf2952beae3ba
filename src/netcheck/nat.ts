// Classifies the NAT in front of one local UDP socket from the public endpoints that different
// destinations saw for it (as hyperdht's nat.js does by sampling): the same endpoint everywhere is
// endpoint-independent mapping ("easy": a peer can reach us at what the supernode saw); a
// different one per destination is endpoint-dependent ("symmetric": direct paths need birthday
// punching). One destination cannot tell the two apart.
import type { NatResult } from './report.js'

export interface Sighting {
  /** the destination, "host:port" as asked */
  destination: string
  /** what that destination saw as our source */
  address: string
  port: number
}

/** `localAddresses`: the host's own addresses; the supernode seeing one of them means no NAT. */
export function classifyNat(localPort: number | null, sightings: readonly Sighting[], localAddresses: ReadonlySet<string>): NatResult {
  const publicEndpoints = [...new Set(sightings.map((s) => `${s.address}:${s.port}`))]
  const destinations = new Set(sightings.map((s) => s.destination)).size
  if (sightings.length === 0) return { mapping: 'unknown', behindNat: null, portPreserved: null, localPort, publicEndpoints, destinations }
  const behindNat = !sightings.every((s) => localAddresses.has(s.address) && s.port === localPort)
  const portPreserved = localPort === null ? null : sightings.every((s) => s.port === localPort)
  let mapping: NatResult['mapping']
  if (publicEndpoints.length > 1) mapping = 'endpoint-dependent'
  else if (!behindNat || destinations > 1) mapping = 'endpoint-independent'
  else mapping = 'unknown'
  return { mapping, behindNat, portPreserved, localPort, publicEndpoints, destinations }
}
