{
  "targets": [
    {
      "target_name": "berth_sys",
      "sources": ["native/berth_sys.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
