# Builds the TAP addon (tap.c) with node-gyp: `npm ci` runs it through the package's install script.
{
  "targets": [
    {
      "target_name": "overlan_tap",
      "sources": ["tap.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
