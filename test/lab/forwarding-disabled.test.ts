// Forwarding disabled: the "device" host has a second network (172.16.5.0/24 with a LAN host
// at .20) and IP forwarding turned on globally after its edge started, which resets every
// interface's forwarding sysctl to 1, the TAP's included. A technician who routes that LAN via
// the device's overlay address still reaches nothing there: the edge drops the packets
// (`not-our-ip`) before the device's routing sees them. The device itself stays reachable.
import t from 'tap'
import { natLab, TAP, waitFor } from '../fixtures/lab.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const LAN = '172.16.5.0/24'
const LAN_HOST = '172.16.5.20'

t.test('a technician routing a LAN via the device reaches nothing on it', async (t) => {
  if (skipUnlessRoot(t, 'forwarding disabled against a routed LAN behind the device')) return
  const lab = await natLab(t)
  const deviceSite = await lab.addPublicHost()
  const techSite = await lab.addPublicHost()
  const lanHost = await lab.addLanHost(deviceSite, 'lan1', '172.16.5.1/24', `${LAN_HOST}/24`)
  // counters, not filters: how many packets from the overlay the device forwarded, and the LAN host saw
  await lab.netns.exec(deviceSite.ns, 'iptables', ['-A', 'FORWARD', '-s', '10.9.0.0/24', '-j', 'ACCEPT'])
  await lab.netns.exec(lanHost, 'iptables', ['-A', 'INPUT', '-s', '10.9.0.0/24', '-j', 'ACCEPT'])
  await lab.startSupernode()
  const device = lab.startEdge(deviceSite, { address: '10.9.0.2/24', name: 'device' })
  const tech = lab.startEdge(techSite, { address: '10.9.0.1/24', name: 'technician' })
  t.ok((await device.waitRegistered(30_000)).ok, 'device registered')
  t.ok((await tech.waitRegistered(30_000)).ok, 'technician registered')

  const atStart = (await device.status()).forwarding
  t.comment(`/status forwarding after the edge started: ${JSON.stringify(atStart)}`)
  t.same(atStart, { ipv4: 0, ipv6: 0 }, 'the edge turned forwarding off on its TAP')
  // after the edge started, as an administrator (or a VPN, or docker) would
  await lab.netns.exec(deviceSite.ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
  const kernel = (await lab.netns.exec(deviceSite.ns, 'cat', [`/proc/sys/net/ipv4/conf/${TAP}/forwarding`])).stdout.trim()
  t.comment(`kernel after net.ipv4.ip_forward=1: net.ipv4.conf.${TAP}.forwarding=${kernel}`)
  const reported = await waitFor('/status shows the new forwarding value', async () => {
    const f = (await device.status()).forwarding
    return f !== undefined && String(f.ipv4) === kernel ? f : undefined
  }, 5_000)
  t.comment(`/status forwarding after net.ipv4.ip_forward=1: ${JSON.stringify(reported.value ?? (await device.status()).forwarding)}`)
  t.ok(reported.ok, `/status reports what the kernel says (ipv4 ${kernel}) within ${reported.ms} ms`)

  await lab.netns.exec(techSite.ns, 'ip', ['route', 'add', LAN, 'via', device.ip])
  const toDevice = await lab.firstReply(techSite.ns, device.ip, 10_000)
  t.ok(toDevice.ok, `the technician pings the device's overlay address (${toDevice.ms} ms)`)
  const local = await lab.ping(deviceSite.ns, LAN_HOST, 2)
  t.equal(local.received, 2, 'the LAN host answers the device itself (so the LAN is there to reach)')

  const before = (await device.status()).drops['not-our-ip'] ?? 0
  const toLan = await lab.ping(techSite.ns, LAN_HOST, 5)
  const after = (await device.status()).drops['not-our-ip'] ?? 0
  t.comment(`technician → ${LAN_HOST} via ${device.ip}: ${toLan.received}/${toLan.transmitted} answered; device drops not-our-ip ${before} → ${after}`)
  t.equal(toLan.transmitted, 5, 'the technician sent 5 echo requests')
  t.equal(toLan.received, 0, 'none answered: the LAN behind the device is out of reach')
  t.ok(after - before >= 5, `the device edge dropped them as not-our-ip (+${after - before})`)

  const forwarded = await lab.netns.exec(deviceSite.ns, 'iptables', ['-L', 'FORWARD', '-v', '-n', '-x'])
  const seen = await lab.netns.exec(lanHost, 'iptables', ['-L', 'INPUT', '-v', '-n', '-x'])
  const packets = (out: string): number => Number(/^\s*(\d+)\s+\d+\s+ACCEPT/m.exec(out)?.[1] ?? -1)
  t.equal(packets(forwarded.stdout), 0, 'the device forwarded no packet from the overlay')
  t.equal(packets(seen.stdout), 0, 'the LAN host received no packet from the overlay')
})
