"""Policy Summit registration: events, attendees, waiting list, manage links."""
