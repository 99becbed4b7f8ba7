"""Command-line options: base flags, then the model's and the data set's hooks (CycleGAN style)."""
