// Per-interface sysctls on Linux that the edge sets on its TAP device: IP forwarding off (and
// reported live), and what keeps a member from acting as this host's router or learning its other
// addresses: no router advertisements, no redirects, ARP answered only for the TAP's own address.
// Not the guarantee (turning net.ipv4.ip_forward on later resets every interface's forwarding to
// 1, and conf/all values can override some of these); the edge's frame filter is. This is the
// second line.
import { readFile, writeFile } from 'node:fs/promises'

export interface ForwardingState {
  /** net.ipv4.conf.<dev>.forwarding: 0, 1, or null when it cannot be read */
  ipv4: number | null
  /** net.ipv6.conf.<dev>.forwarding */
  ipv6: number | null
}

function paths(device: string): { ipv4: string; ipv6: string } {
  return { ipv4: sysctlPath(4, device, 'forwarding'), ipv6: sysctlPath(6, device, 'forwarding') }
}

function sysctlPath(family: 4 | 6, device: string, name: string): string {
  if (!/^[^\s/]{1,15}$/.test(device)) throw new RangeError(`not an interface name: ${device}`)
  return `/proc/sys/net/ipv${family}/conf/${device}/${name}`
}

/**
 * Set on the TAP, each with its reason. accept_ra: a member's Router Advertisement would install a
 * default route via the member and an address from its prefix (forwarding=0 makes the kernel's
 * default accept_ra=1 act on them). accept_redirects: a member's redirect would reroute the host's
 * traffic through it. arp_ignore=1: answer ARP only for addresses configured on the TAP itself,
 * not for the host's other interfaces (which a member could otherwise list); arp_announce=2: ARP
 * requests out of the TAP carry the TAP's own address as their source.
 */
export const TAP_SYSCTLS: readonly { family: 4 | 6; name: string; value: number }[] = [
  { family: 6, name: 'accept_ra', value: 0 },
  { family: 6, name: 'accept_redirects', value: 0 },
  { family: 4, name: 'accept_redirects', value: 0 },
  { family: 4, name: 'arp_ignore', value: 1 },
  { family: 4, name: 'arp_announce', value: 2 },
]

/** Sets TAP_SYSCTLS on the device; throws with the sysctl's name when the kernel refuses (IPv6 may be absent). */
export async function hardenTap(device: string): Promise<void> {
  for (const { family, name, value } of TAP_SYSCTLS) {
    try {
      await writeFile(sysctlPath(family, device, name), `${value}\n`)
    } catch (err) {
      if (family === 6 && (err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw new Error(`cannot set net.ipv${family}.conf.${device}.${name}=${value}: ${(err as Error).message}`, { cause: err })
    }
  }
}

/** What the kernel says each of TAP_SYSCTLS is now (null: cannot be read), for tests and diagnostics. */
export async function readTapSysctls(device: string): Promise<Record<string, number | null>> {
  const result: Record<string, number | null> = {}
  for (const { family, name } of TAP_SYSCTLS) result[`ipv${family}.${name}`] = await read(sysctlPath(family, device, name))
  return result
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
