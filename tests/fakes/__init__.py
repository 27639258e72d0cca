"""Stand-ins for vendor APIs the local stack has no real counterpart of (clearly marked as such)."""
