"""Resource catalog models (filled in by the resources work)."""
