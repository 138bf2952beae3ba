// `overlan edge --rekey-after SECONDS`: the pair sessions' limits it makes (WireGuard's proportions
// kept), the edge config it reaches, and the one-line refusals.
import t from 'tap'
import { edgeConfig } from '../../src/cli/edge.js'
import { CliError } from '../../src/cli/errors.js'
import { rekeyAfterLimits } from '../../src/cli/rekey-after.js'
import { DEFAULT_LIMITS } from '../../src/crypto/noise-session.js'

const base = { device: 'ovl0', mtu: 1390, port: 0, mgmt: '127.0.0.1:5644', 'relay-only': false, 'log-level': 'info', community: 'lab', supernode: ['x:1'] }

t.test('120 s is the default limits; 10 s keeps their proportions', (t) => {
  const full = rekeyAfterLimits(120)
  t.same(full, { rekeyAfterTimeMs: DEFAULT_LIMITS.rekeyAfterTimeMs, rejectAfterTimeMs: DEFAULT_LIMITS.rejectAfterTimeMs, responderRekeyAfterMs: DEFAULT_LIMITS.responderRekeyAfterMs })
  t.same(rekeyAfterLimits(10), { rekeyAfterTimeMs: 10_000, rejectAfterTimeMs: 15_000, responderRekeyAfterMs: 13_750 })
  t.end()
})

t.test('the edge config carries them; without the option it carries none', (t) => {
  t.same(edgeConfig({ ...base, 'rekey-after': 30 }, { OVERLAN_KEY: 'k' }).sessionLimits, rekeyAfterLimits(30))
  t.equal(edgeConfig(base, { OVERLAN_KEY: 'k' }).sessionLimits, undefined)
  t.end()
})

t.test('outside 10-120 whole seconds: one line naming the option', (t) => {
  for (const bad of [9, 121, 10.5, Number.NaN, -30]) {
    t.throws(() => edgeConfig({ ...base, 'rekey-after': bad }, { OVERLAN_KEY: 'k' }), new CliError(`--rekey-after must be a whole number of seconds from 10 to 120, got ${bad}`), String(bad))
  }
  t.end()
})
