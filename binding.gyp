{
  "targets": [
    {
      "target_name": "berth_sys",
      "sources": ["native/berth_sys.c", "native/berth_fdio.c", "native/berth_spawn.c", "native/berth_netns.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
