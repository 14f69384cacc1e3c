"""An aiosmtpd server in a process of its own that accepts everything and only counts it.

Its own process, so the sink's CPU time is not charged to (or slowed by) the
process being measured. The count lives in shared memory, so reading it costs
the sink nothing.
"""
import multiprocessing
import time

from aiosmtpd.controller import Controller

from tests.support.smtp import free_port

# "spawn", not fork: the parent holds database and broker connections a
# forked child would inherit.
_CONTEXT = multiprocessing.get_context("spawn")


class CountingHandler:
    def __init__(self, counter):
        self.counter = counter

    async def handle_DATA(self, server, session, envelope):
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


def _serve(port: int, counter, ready, stop) -> None:
    # A fixed server_hostname: otherwise aiosmtpd looks up the machine's FQDN
    # for every new connection, which would bill name resolution to the
    # reconnect-per-message baseline.
    controller = Controller(CountingHandler(counter), hostname="127.0.0.1", port=port, server_hostname="bench-sink")
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class Sink:
    def __init__(self):
        self.port = free_port()
        self._counter = _CONTEXT.Value("Q", 0)
        self._ready = _CONTEXT.Event()
        self._stop = _CONTEXT.Event()
        self._process = _CONTEXT.Process(
            target=_serve, args=(self.port, self._counter, self._ready, self._stop), daemon=True
        )

    def __enter__(self) -> "Sink":
        self._process.start()
        if not self._ready.wait(timeout=60):
            self._process.kill()
            raise RuntimeError("the SMTP sink did not start within 60s")
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    @property
    def received(self) -> int:
        return self._counter.value

    def reset(self) -> None:
        with self._counter.get_lock():
            self._counter.value = 0

    def wait_for(self, count: int, timeout: float, interval: float = 0.01) -> None:
        deadline = time.monotonic() + timeout
        while self.received < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sink got {self.received} of {count} messages within {timeout}s")
            time.sleep(interval)
