"""Small pieces every layer shares: error classes, the scene model, settings, secrets, logging.

Everything here is standard library only, because the hook path imports some of it.
"""
