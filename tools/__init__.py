"""Maintainer tools: generated documentation, the plugin package. Never imported by the product."""
