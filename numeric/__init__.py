"""Numeric checks against PyTorch, from-scratch layers, and the experiments on real data."""
