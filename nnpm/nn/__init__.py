"""Networks built from declarative specs: the family registry and the builder."""
