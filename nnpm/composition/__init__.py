"""Composition: assembling module packages into working classifiers, like code reuse."""
