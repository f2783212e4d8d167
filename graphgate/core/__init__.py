"""The domain core every other part builds on; it imports none of them (graphgate/__init__.py)."""
