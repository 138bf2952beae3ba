// `overlan edge --accept-streams`: a TAP edge accepts members' userspace streams only when asked
// (they reach the host's services through loopback, past firewall rules on the TAP), and the
// option is refused where it means nothing (--userspace).
import t from 'tap'
import { edgeConfig, userspaceOptions } from '../../src/cli/edge.js'
import { CliError } from '../../src/cli/errors.js'

const base = { device: 'ovl0', mtu: 1390, port: 0, mgmt: '127.0.0.1:5644', 'relay-only': false, 'log-level': 'info', community: 'lab', supernode: ['x:1'] }

t.test('without --accept-streams the edge config accepts no streams; with it, it does', (t) => {
  t.same(edgeConfig(base, { OVERLAN_KEY: 'k' }).streams, { accept: false })
  t.same(edgeConfig({ ...base, 'accept-streams': false }, { OVERLAN_KEY: 'k' }).streams, { accept: false })
  t.same(edgeConfig({ ...base, 'accept-streams': true }, { OVERLAN_KEY: 'k' }).streams, { accept: true })
  t.end()
})

t.test('--accept-streams with --userspace: one line naming the option', (t) => {
  const args = { ...base, userspace: true, 'accept-streams': true, forward: ['2222:22'], target: '10.9.0.1' }
  t.throws(() => userspaceOptions(args), new CliError('--accept-streams: not with --userspace (a userspace edge has no services to carry streams to)'))
  t.end()
})
