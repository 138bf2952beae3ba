// The installed command as a user runs it: --help lists what works, keygen prints usable keys,
// bad input gets one line on stderr and a non-zero exit.
import t from 'tap'
import { overlan } from '../fixtures/overlan-cli.js'

t.test('--help lists the commands', async (t) => {
  const { code, stdout } = await overlan('--help')
  t.equal(code, 0)
  t.match(stdout, /overlan keygen/)
})

t.test('keygen prints the requested number of distinct 192-bit keys', async (t) => {
  const { code, stdout } = await overlan('keygen', '-n', '3')
  t.equal(code, 0)
  const keys = stdout.trim().split('\n')
  t.equal(keys.length, 3)
  t.equal(new Set(keys).size, 3)
  for (const key of keys) t.match(key, /^[A-Za-z0-9_-]{32}$/)
})

t.test('bad input: one line, non-zero exit', async (t) => {
  for (const args of [['keygen', '-n', '0'], ['no-such-command'], []]) {
    const { code, stdout, stderr } = await overlan(...args)
    t.not(code, 0, `overlan ${args.join(' ')} fails`)
    t.equal(stdout, '')
    t.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr.trim()}`)
    t.match(stderr, /^overlan: /)
  }
})
