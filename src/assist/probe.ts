// The console's connection test: `overlan netcheck` (src/netcheck) against the service's own
// supernodes and fallback URLs. The answer keeps one row per supernode (reachable, round trip,
// public address seen) and adds netcheck's plain sentences for the user to read or forward.
import { formatHostPort, type SupernodeHost } from '../net/address.js'
import { runNetcheck, type NetcheckDeps } from '../netcheck/netcheck.js'

export interface SupernodeProbe {
  address: string
  reachable: boolean
  rttMs: number | null
  publicEndpoint: string | null
  error?: string
}

export interface ConnectionTestResult {
  supernodes: SupernodeProbe[]
  /** netcheck's findings in plain sentences (src/netcheck/sentences.ts) */
  sentences: string[]
  /** some way to a supernode works (UDP or the fallback) */
  canConnect: boolean
}

export async function connectionTest(supernodes: SupernodeHost[], fallbacks: string[], deps: NetcheckDeps): Promise<ConnectionTestResult> {
  const report = await runNetcheck({ supernodes: supernodes.map((s) => ({ host: s.host, ports: [...(s.ports ?? [s.port])] })), fallbacks }, deps)
  // one row per port of each supernode, in the supernodes' order
  const rows = report.ports.map((p) => {
    const row: SupernodeProbe = { address: formatHostPort({ host: p.supernode, port: p.port }), reachable: p.reachable, rttMs: p.rttMs, publicEndpoint: p.publicEndpoint }
    return p.error === undefined ? row : { ...row, error: p.error }
  })
  return { supernodes: rows, sentences: report.sentences, canConnect: report.canConnect }
}
