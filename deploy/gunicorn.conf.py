"""gunicorn for the graphgate API: ``gunicorn -c deploy/gunicorn.conf.py 'graphgate.cli.compose:create_app()'``.

gunicorn manages processes (restarts a crashed one, graceful reloads on SIGHUP); each process is a uvicorn
event loop (``uvicorn_worker.UvicornWorker``: the maintained successor of ``uvicorn.workers.UvicornWorker``)
running the app built by the factory call ``create_app()``. Environment:

  GRAPHGATE_BIND        address to listen on (default 0.0.0.0:8000)
  WEB_CONCURRENCY       processes (default 2); SSE clients are cheap, one per core is plenty
  FORWARDED_ALLOW_IPS   proxies whose X-Forwarded-* headers are believed (default "*": behind nginx only)
"""

import os

from graphgate.core.logs import configure_logging
from graphgate.core.settings import get_settings

wsgi_app = "graphgate.cli.compose:create_app()"
worker_class = "uvicorn_worker.UvicornWorker"
bind = os.environ.get("GRAPHGATE_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
timeout = 60  # a process whose event loop stops answering this long is replaced
graceful_timeout = 20  # on SIGTERM: finish requests this long (open event streams end; clients reconnect)
keepalive = 75  # longer than nginx's upstream keepalive, so nginx closes idle connections first
accesslog = None  # nginx logs requests; set to "-" for gunicorn's own access log

# the app's own loggers (task ids, JSON with GRAPHGATE_LOG_FORMAT=json); worker processes inherit this
configure_logging(get_settings().log_level)
