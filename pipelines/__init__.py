"""Jobs (`python -m pipelines.X`) and the Beam transforms they are made of."""
