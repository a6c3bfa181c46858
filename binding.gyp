{
  "targets": [
    {
      "target_name": "berth_sys",
      "sources": ["native/berth_sys.c", "native/berth_fdio.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
