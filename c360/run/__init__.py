"""Running c360: the command line, the runner (papermill, publish, lock), notebook kernels and golden outputs."""
