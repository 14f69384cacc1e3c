"""Public pages: home, strategic priorities, resources."""
