"""The lowest layer: what every other package may use (user errors, CLI plumbing, offline model files)."""
