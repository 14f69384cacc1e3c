import socket
import time


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, message: str = "condition"):
    """Poll `predicate` until it returns a truthy value; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not reached within {timeout}s (last value: {value!r})")
        time.sleep(interval)


def greets(port: int, banner: bytes) -> bool:
    """True when a server on 127.0.0.1:`port` answers a new connection with `banner` (SMTP b"220", IMAP b"* OK")."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(512).startswith(banner)
    except OSError:
        return False
