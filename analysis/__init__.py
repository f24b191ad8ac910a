"""Measurements and figures computed from the PESConv shards."""
