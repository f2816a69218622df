"""Local stand-ins for external services: the X emulator and its demo data."""
