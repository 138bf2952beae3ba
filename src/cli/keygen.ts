// `overlan keygen`: prints a freshly generated community secret for `overlan edge -k`.
import type { CommandModule } from 'yargs'
import { SECRET_BITS, generateSecret } from '../crypto/secret.js'

export const keygenCommand: CommandModule<object, { count: number }> = {
  command: 'keygen',
  describe: `Print a new random community key (${SECRET_BITS} bits)`,
  builder: (y) =>
    y.option('count', {
      alias: 'n',
      type: 'number',
      default: 1,
      describe: 'how many keys to print, one per line',
    }).check((args) => {
      if (!Number.isInteger(args.count) || args.count < 1 || args.count > 1000) throw new Error('--count must be an integer from 1 to 1000')
      return true
    }),
  handler: (args) => {
    const lines: string[] = []
    for (let i = 0; i < args.count; i++) lines.push(generateSecret())
    process.stdout.write(lines.join('\n') + '\n')
  },
}
