"""The A/B/C contact cadence: which client companies nobody has called or written to in time."""
