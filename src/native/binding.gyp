# Builds the native addons with node-gyp (`npm ci` runs it through the package's install script):
# the TAP device and the batched UDP socket, which share the poll-and-lifetime code in poller.c.
{
  "target_defaults": {
    "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
    "defines": ["NAPI_VERSION=8"]
  },
  "targets": [
    { "target_name": "overlan_tap", "sources": ["tap.c", "poller.c"] },
    { "target_name": "overlan_udp", "sources": ["udp.c", "poller.c"] }
  ]
}
