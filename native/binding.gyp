{
  "targets": [
    {
      "target_name": "mtsa_kernels",
      "sources": ["mtsa_kernels.c"],
      "cflags": ["-O3", "-std=c11"],
      "libraries": ["-lopenblas"]
    }
  ]
}
