"""Registries: where packages are published and found. `open_registry` picks one by name."""
