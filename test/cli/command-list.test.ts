// The command list (src/cli/commands.ts) that lets `overlan edge` load only the edge: every entry
// loads the module it names, with the usage it is listed under; the list says what the commands say;
// the word that picks a command is found as users type it; and the commands still run and fail as
// before with only their own module loaded.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { COMMAND_DESCRIPTIONS, COMMANDS, commandWordOf } from '../../src/cli/commands.js'
import { SECRET_BITS } from '../../src/crypto/secret.js'
import { overlan } from '../fixtures/overlan-cli.js'
import yargs from 'yargs'
import { skipHelpRendering } from '../../src/cli/main.js'

t.test('each entry loads its command, listed under the usage yargs matches and with its own description', async (t) => {
  t.same(COMMANDS.map((c) => c.name).sort(), Object.keys(COMMAND_DESCRIPTIONS).sort(), 'one entry per described command')
  for (const entry of COMMANDS) {
    const command = await entry.load()
    t.equal(command.command, entry.usage, `${entry.name}: usage "${entry.usage}"`)
    t.equal(command.describe, COMMAND_DESCRIPTIONS[entry.name], `${entry.name}: its help says what the list says`)
    t.equal(typeof command.builder, 'function', `${entry.name}: options built by a function (main.ts relies on it)`)
  }
  t.match(COMMAND_DESCRIPTIONS.keygen, `(${SECRET_BITS} bits)`, "keygen's line states the key size the code makes")
})

t.test('the list itself loads no module: only the chosen command is imported', (t) => {
  const compiled = readFileSync(fileURLToPath(new URL('../../src/cli/commands.js', import.meta.url)), 'utf8')
  t.notMatch(compiled, /^import\s(?!type)/m, 'no static import in the compiled list')
  t.match(compiled, /import\('\.\/edge\.js'\)/, 'the edge is imported on demand')
  t.end()
})

t.test('the command word: the first argument that is not an option', (t) => {
  t.equal(commandWordOf(['edge', '-c', 'lab']), 'edge')
  t.equal(commandWordOf(['--help']), undefined)
  t.equal(commandWordOf([]), undefined)
  t.equal(commandWordOf(['--', 'edge']), undefined, 'nothing after --')
  t.equal(commandWordOf(['audit', 'verify']), 'audit')
  t.end()
})

t.test('with only their own module loaded, commands keep their output, exit codes and one-line errors as before', async (t) => {
  const keygen = await overlan('keygen')
  t.equal(keygen.code, 0, 'keygen runs')
  t.match(keygen.stdout, /^[A-Za-z0-9_-]{32}\n$/)
  const audit = await overlan('audit', 'verify', '--state-dir', '/nonexistent/overlan-test')
  t.not(audit.code, 0, 'a failing command still exits non-zero')
  t.match(audit.stderr, /^overlan: cannot read \/nonexistent\/overlan-test\/audit\.log: ENOENT\n$/, 'with its one line')
  const typo = await overlan('edg')
  t.equal(typo.code, 1)
  t.match(typo.stderr, /Did you mean edge\?/, 'suggestions still come from the whole list')
  const edgeHelp = await overlan('edge', '--help')
  t.equal(edgeHelp.code, 0)
  t.match(edgeHelp.stdout, /--supernode/, "the chosen command's own help")
  const ca = await overlan('ca')
  t.equal(ca.code, 1, 'a command with subcommands still asks for one')
  t.match(ca.stderr, /name a ca command/)
})

t.test("a command's start does not render its help (yargs's cache of it is switched off), and --help still shows it", async (t) => {
  const parser = yargs([]).command('run', 'a command', (y) => y.option('long-option', { describe: 'x'.repeat(300), type: 'string' }), () => {})
  t.ok(skipHelpRendering(parser), "yargs still has the usage cache main.ts switches off (a yargs update that renames it fails here, and the edge's start-up is slower again)")
  let rendered = 0
  const usage = (parser as unknown as { getInternalMethods(): { getUsageInstance(): { help(): string } } }).getInternalMethods().getUsageInstance()
  const help = usage.help.bind(usage)
  usage.help = () => {
    rendered++
    return help()
  }
  await parser.parseAsync(['run'])
  t.equal(rendered, 0, 'running the command rendered no help')
  const shown = await overlan('edge', '--help')
  t.equal(shown.code, 0, 'overlan edge --help exits 0')
  t.match(shown.stdout, /--community/, 'and shows the options')
})
