// `overlan keygen`: prints a freshly generated community secret for `overlan edge -k`; with
// --identity FILE, makes a member's identity key instead (FILE, 0600) and its public key (FILE.pub),
// which an authority signs with `overlan ca issue --pub FILE.pub`.
import { existsSync } from 'node:fs'
import type { CommandModule } from 'yargs'
import { armor } from '../crypto/armor.js'
import { destroyIdentity, generateIdentity, keyFingerprint, seedOf } from '../crypto/identity.js'
import { generateSecret } from '../crypto/secret.js'
import { destroySecret } from '../crypto/secure-memory.js'
import { CliError } from './errors.js'
import { PUBLIC_FILE_MODE, SECRET_FILE_MODE, writeNewFile } from './key-files.js'
import { COMMAND_DESCRIPTIONS } from './commands.js'

export const PUBLIC_KEY_SUFFIX = '.pub'

export const keygenCommand: CommandModule<object, { count: number; identity?: string }> = {
  command: 'keygen',
  describe: COMMAND_DESCRIPTIONS.keygen,
  builder: (y) =>
    y
      .option('count', {
        alias: 'n',
        type: 'number',
        default: 1,
        describe: 'how many keys to print, one per line',
      })
      .option('identity', {
        type: 'string',
        describe: `make a member identity key in this file (0600) and its public key in FILE${PUBLIC_KEY_SUFFIX}; existing files are never overwritten`,
      })
      .check((args) => {
        if (!Number.isInteger(args.count) || args.count < 1 || args.count > 1000) throw new Error('--count must be an integer from 1 to 1000')
        return true
      })
      .example('$0 keygen', 'a community key for overlan edge -k')
      .example('$0 keygen --identity anna.key', 'an identity key: anna.key (secret) and anna.key.pub (for overlan ca issue --pub)'),
  handler: (args) => {
    if (args.identity !== undefined) {
      if (args.count !== 1) throw new CliError('--identity makes one key: give no --count with it')
      writeIdentity(args.identity)
      return
    }
    const lines: string[] = []
    for (let i = 0; i < args.count; i++) lines.push(generateSecret())
    process.stdout.write(lines.join('\n') + '\n')
  },
}

function writeIdentity(path: string): void {
  if (path === '') throw new CliError('--identity: give a file name')
  // checked first so that a refusal leaves no secret key without its public half
  if (existsSync(path + PUBLIC_KEY_SUFFIX)) throw new CliError(`--identity: ${path}${PUBLIC_KEY_SUFFIX} exists; refusing to overwrite it`)
  const identity = generateIdentity()
  const seed = seedOf(identity)
  const text = armor('identity', seed)
  try {
    writeNewFile('--identity', path, text, SECRET_FILE_MODE)
  } finally {
    destroySecret(seed)
    destroySecret(text)
    destroyIdentity(identity)
  }
  writeNewFile('--identity', path + PUBLIC_KEY_SUFFIX, armor('publicKey', identity.publicKey), PUBLIC_FILE_MODE)
  process.stdout.write(`identity ${keyFingerprint(identity.publicKey)}: secret key in ${path}, public key in ${path}${PUBLIC_KEY_SUFFIX}\n`)
}
