"""TUI widgets, one per region."""
