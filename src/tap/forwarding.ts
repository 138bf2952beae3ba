// Per-interface IP forwarding on Linux: the edge turns it off for its TAP device and reports what
// the kernel says. Not the guarantee (turning net.ipv4.ip_forward on later resets every
// interface's value to 1); the edge's frame filter is. This is the second line.
import { readFile, writeFile } from 'node:fs/promises'

export interface ForwardingState {
  /** net.ipv4.conf.<dev>.forwarding: 0, 1, or null when it cannot be read */
  ipv4: number | null
  /** net.ipv6.conf.<dev>.forwarding */
  ipv6: number | null
}

function paths(device: string): { ipv4: string; ipv6: string } {
  if (!/^[^\s/]{1,15}$/.test(device)) throw new RangeError(`not an interface name: ${device}`)
  return { ipv4: `/proc/sys/net/ipv4/conf/${device}/forwarding`, ipv6: `/proc/sys/net/ipv6/conf/${device}/forwarding` }
}

async function read(path: string): Promise<number | null> {
  try {
    return Number((await readFile(path, 'utf8')).trim())
  } catch {
    return null
  }
}

export async function readForwarding(device: string): Promise<ForwardingState> {
  const p = paths(device)
  return { ipv4: await read(p.ipv4), ipv6: await read(p.ipv6) }
}

/** Sets both to 0; throws with the sysctl's name when the kernel refuses (IPv6 may be absent: then null). */
export async function disableForwarding(device: string): Promise<ForwardingState> {
  const p = paths(device)
  try {
    await writeFile(p.ipv4, '0\n')
  } catch (err) {
    throw new Error(`cannot set net.ipv4.conf.${device}.forwarding=0: ${(err as Error).message}`, { cause: err })
  }
  try {
    await writeFile(p.ipv6, '0\n')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`cannot set net.ipv6.conf.${device}.forwarding=0: ${(err as Error).message}`, { cause: err })
    }
  }
  return readForwarding(device)
}
