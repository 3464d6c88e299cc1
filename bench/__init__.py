"""The drp-plugin benchmark suite: ``python -m bench [--quick] [--out FILE]``."""
