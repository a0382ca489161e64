"""OpsKnight's domain core: pure calculations plus the jobs that apply them."""
