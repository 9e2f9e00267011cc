"""The package format: names, manifests, schemas, weights checks, cards and packing."""
