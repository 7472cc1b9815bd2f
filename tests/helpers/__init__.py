"""Test-only entry scripts run as real processes (drainers, hook-like enqueuers)."""
