"""Modularizing CNNs while training (MwT): families, gates, losses, training, extraction, packaging.

Importing this package does not import torch (publish and install import `specs` to
check weight shapes); the public entry points live in `nnpm.science.cnn.mwt`.
"""
