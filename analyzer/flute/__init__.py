"""flute."""
