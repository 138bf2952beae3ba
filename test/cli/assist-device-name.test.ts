// `overlan assist --device-name NAME`: the name technicians are told they join (the join token's
// device name, the device's certificate) and the console shows (GET /api/assistance deviceName);
// by default this host's name. A name that is empty, over 64 bytes of UTF-8 or not printable is
// refused with one line naming the option, before anything starts. The real command: the refusals
// as any user, the names in a network namespace of its own with a real TAP device (root).
import { hostname } from 'node:os'
import t from 'tap'
import { defaultDeviceName } from '../../src/assist/device-name.js'
import { decodeJoinTokenV2 } from '../../src/assist/join-token.js'
import { EXIT_USAGE } from '../../src/cli/errors.js'
import { LoneAssist } from '../fixtures/lab-assist.js'
import { netnsLab } from '../fixtures/netns.js'
import { overlan } from '../fixtures/overlan-cli.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

/** 64 bytes: the most a join token and a certificate carry; 'é' is 2 bytes of UTF-8. */
const LONGEST = `Front desk ${'é'.repeat(26)}.`
const NAME = 'Front desk (ntop) · Verona'

t.test('--help says what --device-name is for and what it takes', async (t) => {
  const { code, stdout } = await overlan('assist', '--help')
  t.equal(code, 0)
  t.match(stdout.replace(/\s+/g, ' '), /--device-name the device's name, as technicians see it when they join \(in the join token and their certificate\) and as the console shows it: at most 64 bytes of UTF-8, printable \(default: this host's name, or "device"\)/)
})

t.test('a bad --device-name: one line naming the option, exit 1, nothing started', async (t) => {
  t.equal(Buffer.byteLength(LONGEST), 64)
  // the name as the line shows it: escaped, so that the line stays one line
  const cases: [string, string, string][] = [
    ['', '""', 'empty'],
    ['   ', '"   "', 'empty'],
    [`${LONGEST}x`, `"${LONGEST}x"`, '65 bytes of UTF-8, more than 64'],
    ['é'.repeat(33), `"${'é'.repeat(33)}"`, '66 bytes of UTF-8, more than 64'],
    ['front\tdesk', '"front\\tdesk"', 'it holds a control character'],
    ['front\ndesk', '"front\\ndesk"', 'it holds a control character'],
    ['front\u0085desk', '"front\\u0085desk"', 'it holds a control character'],
    ['front\u2028desk', '"front\\u2028desk"', 'it holds a control character'],
  ]
  for (const [name, shown, problem] of cases) {
    // --state-dir that cannot be made: had the service started, it would have said so instead
    const { code, stdout, stderr } = await overlan('assist', '--device-name', name, '--state-dir', '/proc/overlan-must-not-start', '--listen', '127.0.0.1:1')
    t.equal(code, EXIT_USAGE, `${shown}: exit ${EXIT_USAGE}`)
    t.equal(stdout, '')
    t.equal(stderr, `overlan: --device-name: ${shown} cannot be the device's name (${problem}): give 1 to 64 bytes of printable text\n`, `${shown}: ${problem}`)
  }
})

t.test('the name goes into the join token, the certificate and the console; the host name by default', async (t) => {
  if (skipUnlessRoot(t, 'overlan assist with a real TAP device in a namespace')) return
  const netns = netnsLab(t, 'dn')
  const a = await LoneAssist.create(t, netns)
  const named = await a.startAndWait('assist named', undefined, ['--device-name', NAME])
  t.match((await a.api('GET', '/api/assistance')).json, { enabled: false, deviceName: NAME }, 'the console is told the name while off')
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600 })
  t.equal(on.status, 200)
  t.equal(decodeJoinTokenV2(on.json.token as string).deviceName, NAME, "the join token's device name")
  t.match((await a.api('GET', '/api/assistance')).json, { enabled: true, deviceName: NAME }, 'and while on')
  const enable = (await a.auditRecords()).findLast((r) => r.event === 'enable')
  t.match(enable?.details, { device: { name: NAME } }, "the device's certificate carries it (as the enable record says)")
  t.equal((await a.api('POST', '/api/assistance', { enabled: false })).status, 200)
  await named.stop()

  await a.startAndWait('assist by default')
  const expected = defaultDeviceName(hostname(), 'device')
  t.match((await a.api('GET', '/api/assistance')).json, { deviceName: expected }, `no --device-name: this host's name (${expected})`)
  const again = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600 })
  t.equal(decodeJoinTokenV2(again.json.token as string).deviceName, expected)
  await a.api('POST', '/api/assistance', { enabled: false })
})
