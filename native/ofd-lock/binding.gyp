{
  "targets": [
    {
      "target_name": "ofd_lock",
      "sources": ["ofd_lock.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
