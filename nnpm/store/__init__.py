"""The store of installed packages."""
