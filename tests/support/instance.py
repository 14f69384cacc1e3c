"""A server the tests run from a temporary folder of its own (Postfix, Dovecot): its configuration, data and log."""
import os
import shutil
import tempfile
from pathlib import Path


class PrivateInstance:
    """`with Server(...) as server:` configures and starts it; leaving stops it and removes its folder.

    Subclasses write their files in _configure, start in _start, wait in _wait_listening and stop in _stop.
    """

    prefix = "test-instance"

    root: Path | None = None

    def __enter__(self):
        # Not under pytest's private tmp: the servers' unprivileged processes must reach it.
        self.root = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        os.chmod(self.root, 0o755)
        try:
            self._configure()
            self._start()
            self._wait_listening()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        if self.root is None:
            return
        self._stop()
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def _configure(self) -> None:
        raise NotImplementedError

    def _start(self) -> None:
        raise NotImplementedError

    def _wait_listening(self) -> None:
        raise NotImplementedError

    def _stop(self) -> None:
        raise NotImplementedError
