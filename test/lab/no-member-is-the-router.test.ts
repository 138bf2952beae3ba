// No member is the device's router, and the device tells no member the addresses of its other
// interfaces. A technician sends a real IPv6 Router Advertisement (high preference, a prefix with
// autoconfiguration) to ff02::1 on its TAP: the same packet, sent on a plain veth to a host with the
// kernel's defaults, installs a default route and an address there (the control), but the device's
// edge drops it (router-message) and its TAP refuses RAs anyway (accept_ra=0), so the device's routes
// and addresses stay as they were. Then the technician routes the device's LAN address via its TAP
// and pings it: its kernel ARPs for that address on the overlay, and nobody answers.
import t from 'tap'
import { natLab, TAP, waitFor } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const LAN_ADDRESS = '172.16.7.1'
const RA_PREFIX = '2001:db8:1::'
/** Sends a Router Advertisement (preference high, lifetime 1800 s, prefix 2001:db8:1::/64 with L and A) to ff02::1 on argv[1], three times. */
const SEND_RA = `
import socket, struct, sys, time
index = socket.if_nametoindex(sys.argv[1])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
ra = struct.pack('!BBHBBHII', 134, 0, 0, 64, 0x08, 1800, 0, 0)
prefix = struct.pack('!BBBBIII', 3, 4, 64, 0xc0, 86400, 14400, 0) + socket.inet_pton(socket.AF_INET6, '${RA_PREFIX}')
for _ in range(3):
    s.sendto(ra + prefix, ('ff02::1', 0, 0, index))
    time.sleep(0.2)
print('sent 3')
`

interface AddrJson {
  ifname?: string
  addr_info?: { family: string; local: string; scope: string; tentative?: boolean }[]
}

t.test('a technician’s router advertisement changes nothing on the device, and ARP tells it nothing', async (t) => {
  if (skipUnlessRoot(t, 'router advertisements and ARP from the overlay against a real TAP')) return
  const lab = await natLab(t)
  const sendRa = (ns: string, ifname: string): Promise<{ code: number | null; stdout: string; stderr: string }> => lab.exec(ns, 'python3', ['-c', SEND_RA, ifname])
  const routes = async (ns: string): Promise<string> => (await lab.exec(ns, 'ip', ['-6', 'route', 'show'])).stdout
  const addresses = async (ns: string, dev: string): Promise<string[]> => {
    const r = await lab.exec(ns, 'ip', ['-j', '-6', 'addr', 'show', 'dev', dev])
    return ((JSON.parse(r.stdout || '[]') as AddrJson[])[0]?.addr_info ?? []).map((a) => a.local)
  }

  // the control: the same RA on a plain link to a host with the kernel's defaults takes effect
  const victim = await lab.netns.addNamespace('c')
  const router = await lab.netns.addNamespace('c')
  const [victimLink, routerLink] = await lab.netns.addVethPair(victim, router)
  await lab.exec(victim, 'ip', ['link', 'set', victimLink, 'up'])
  await lab.exec(router, 'ip', ['link', 'set', routerLink, 'up'])
  const routerReady = await waitFor('the control router has a link-local address', async () => {
    const info = (JSON.parse((await lab.exec(router, 'ip', ['-j', '-6', 'addr', 'show', 'dev', routerLink])).stdout || '[]') as AddrJson[])[0]?.addr_info ?? []
    return info.some((a) => a.scope === 'link' && a.tentative !== true) ? true : undefined
  }, 5_000)
  t.ok(routerReady.ok, 'control: the sender has its link-local address')
  t.equal((await sendRa(router, routerLink)).code, 0, 'control: the RA was sent')
  const taken = await waitFor('the control host installs the default route', async () => ((await routes(victim)).includes(`default via fe80`) ? true : undefined), 5_000)
  t.ok(taken.ok, `control: a host with the kernel's defaults takes the RA's default route (${taken.ms} ms)`)
  t.ok((await addresses(victim, victimLink)).some((a) => a.startsWith('2001:db8:1:')), 'control: and an address from its prefix')

  // the overlay: the device's edge, and a technician who sends the same RA on its TAP
  const deviceSite = await lab.addPublicHost()
  const techSite = await lab.addPublicHost()
  await lab.addLanHost(deviceSite, 'lan1', `${LAN_ADDRESS}/24`, '172.16.7.20/24')
  await lab.startSupernode()
  const device = lab.startEdge(deviceSite, { address: '10.9.0.2/24', name: 'device' })
  const tech = lab.startEdge(techSite, { address: '10.9.0.1/24', name: 'technician' })
  t.ok((await device.waitRegistered(30_000)).ok, 'device registered')
  t.ok((await tech.waitRegistered(30_000)).ok, 'technician registered')
  const reply = await lab.firstReply(techSite.ns, '10.9.0.2', 10_000)
  t.ok(reply.ok, `the technician reaches the device (${reply.ms} ms)`)

  const sysctls: Record<string, string> = {}
  for (const path of ['ipv6/conf/ovl0/accept_ra', 'ipv6/conf/ovl0/accept_redirects', 'ipv4/conf/ovl0/accept_redirects', 'ipv4/conf/ovl0/arp_ignore', 'ipv4/conf/ovl0/arp_announce']) {
    sysctls[path] = (await lab.exec(deviceSite.ns, 'cat', [`/proc/sys/net/${path}`])).stdout.trim()
  }
  t.same(sysctls, { 'ipv6/conf/ovl0/accept_ra': '0', 'ipv6/conf/ovl0/accept_redirects': '0', 'ipv4/conf/ovl0/accept_redirects': '0', 'ipv4/conf/ovl0/arp_ignore': '1', 'ipv4/conf/ovl0/arp_announce': '2' }, 'the edge set the TAP’s sysctls')

  const routesBefore = await routes(deviceSite.ns)
  const addressesBefore = await addresses(deviceSite.ns, TAP)
  t.ok((await lab.linkLocal(techSite.ns, 5_000)) !== undefined, 'the technician’s TAP has its link-local address')
  const dropsBefore = (await device.status()).drops['router-message'] ?? 0
  const sent = await sendRa(techSite.ns, TAP)
  t.equal(sent.code, 0, `the technician sent the RA on its TAP (${sent.stdout.trim() || sent.stderr.trim()})`)
  const dropped = await waitFor('the device edge drops the RAs', async () => {
    const n = (await device.status()).drops['router-message'] ?? 0
    return n - dropsBefore >= 3 ? n - dropsBefore : undefined
  }, 5_000)
  t.ok(dropped.ok, `the RAs crossed the overlay and the device's edge dropped them as router-message (+${dropped.value ?? 0})`)
  t.equal(await routes(deviceSite.ns), routesBefore, 'the device’s IPv6 routes are unchanged (no default route via the technician)')
  t.same(await addresses(deviceSite.ns, TAP), addressesBefore, 'no address from the technician’s prefix on the device')
  t.comment(`device routes after the RA: ${JSON.stringify((await routes(deviceSite.ns)).trim())}`)

  // ARP: the technician asks the overlay who has the device's LAN address
  const notOurIpBefore = (await device.status()).drops['not-our-ip'] ?? 0
  await lab.exec(techSite.ns, 'ip', ['route', 'add', `${LAN_ADDRESS}/32`, 'dev', TAP])
  const ping = await lab.ping(techSite.ns, LAN_ADDRESS, 3)
  const neighbour = (await lab.exec(techSite.ns, 'ip', ['neigh', 'show', LAN_ADDRESS, 'dev', TAP])).stdout.trim()
  const notOurIpAfter = (await device.status()).drops['not-our-ip'] ?? 0
  t.comment(`technician: ping ${LAN_ADDRESS} via ${TAP}: ${ping.received}/${ping.transmitted}; neighbour entry "${neighbour}"; device not-our-ip ${notOurIpBefore} → ${notOurIpAfter}`)
  t.equal(ping.received, 0, 'no answer for the device’s LAN address over the overlay')
  t.notMatch(neighbour, /lladdr/, 'the technician learned no MAC for it (ARP unanswered)')
  t.ok(notOurIpAfter > notOurIpBefore, 'the device’s edge dropped the ARP requests as not-our-ip')
  const arpForOverlay = (await lab.exec(techSite.ns, 'ip', ['neigh', 'show', '10.9.0.2', 'dev', TAP])).stdout
  t.match(arpForOverlay, /lladdr/, 'while ARP for the device’s overlay address works')
})
