"""Data formats: raw ESConv readers, the normalised dialog record and the PESConv schema."""
