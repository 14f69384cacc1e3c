"""gunicorn settings, read from the working directory: the image's command and the tests use them.

- The app is loaded once, in the master (preload): a configuration the portal
  refuses (e.g. no SECRET_KEY) stops gunicorn at once with its one-line
  reason, instead of workers failing to boot over and over.
- The access log never holds a signed token: manage, confirmation, preference
  and unsubscribe links are personal keys, and logs travel further than the
  database does. Nor the query string of an admin page: it carries what an
  admin searched for (names, email addresses).
"""
import re

from gunicorn.glogging import Logger

preload_app = True

# An itsdangerous token: payload.timestamp.signature, base64url.
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{2,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{16,}")
# An admin path's query string, in the request line or in a Referer URL.
_ADMIN_QUERY = re.compile(r"(/admin(?:/[^?#\s]*)?)\?[^#\s]*")


class TokenRedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f"):  # request line, path, query string, referer
            if isinstance(atoms.get(key), str):
                atoms[key] = _ADMIN_QUERY.sub(r"\1?[query]", _TOKEN.sub("[token]", atoms[key]))
        if atoms.get("q") and str(atoms.get("U", "")).startswith("/admin"):
            atoms["q"] = "[query]"
        return atoms


logger_class = TokenRedactingLogger
