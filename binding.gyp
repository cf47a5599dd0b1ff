{
  "targets": [
    {
      "target_name": "fdwatch",
      "sources": ["appliance/device/native/fdwatch.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
