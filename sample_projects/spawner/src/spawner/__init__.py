"""Child processes of an archive see its packages."""
