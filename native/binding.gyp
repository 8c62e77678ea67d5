{
  "targets": [
    {
      "target_name": "kpath_native",
      "sources": ["src/addon.c", "src/udp_batch.c", "src/relay.c", "src/tcp_info.c", "src/tcp_sockets.c", "src/reactor.c", "src/uring.c", "src/dial_ring.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
