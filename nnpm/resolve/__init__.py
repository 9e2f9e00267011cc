"""Resolution: the resolvelib provider, the project file (nnpm.toml) and the lock file (nnpm.lock)."""
