{
  "targets": [
    {
      "target_name": "mtsa_kernels",
      "sources": ["mtsa_kernels.c", "gemm.c", "ops.c", "pool.c"],
      "cflags": ["-O3", "-std=gnu11", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-pthread"],
      "ldflags": ["-pthread"]
    }
  ]
}
