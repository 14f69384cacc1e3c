"""The curated resource catalog that pages list and digests highlight."""
