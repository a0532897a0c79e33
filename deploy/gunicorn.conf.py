"""gunicorn settings for the line: `gunicorn -c deploy/gunicorn.conf.py 'ivr:create_app()'`.

Threaded workers, one per core: a webhook costs well under a millisecond of CPU, and the threads
serve Twilio's keep-alive connections side by side. Behind the TLS proxy the README describes.
"""

import os
import shutil
import tempfile

bind = os.environ.get("IVR_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("IVR_WORKERS", os.cpu_count() or 2))
worker_class = "gthread"
threads = 4
# Twilio waits 15 s for a webhook; a request that takes longer is already lost to the caller.
timeout = 30
graceful_timeout = 20
keepalive = 75  # Twilio keeps connections open between the webhooks of a call
# Each worker proves it is alive by touching a file in this folder between requests; on a
# disk-backed /tmp a busy disk can hold that up and get a healthy worker killed as hung. Memory
# cannot, so the heartbeat goes to /dev/shm where there is one, as gunicorn's docs advise.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Trust no proxy header here: the line trusts exactly what IVR_PROXY_FIX says, in one place.
forwarded_allow_ips = ""

# The access log names the path, never the query string: a GET webhook carries the caller's
# number there (From=%2B44...). The line's own log masks numbers too (ivr/logs.py).
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("IVR_LOG_LEVEL", "info").lower()

# /metrics under several workers: each writes its figures here and the scrape adds them up
# (prometheus_client's multiprocess mode). Emptied when gunicorn starts; a worker that ends is
# marked so that its gauges drop out.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"ivr-metrics-{os.getpid()}")
)


def on_starting(server):  # noqa: ARG001 - gunicorn's hook signature
    """Start every run with no figures left from an earlier one."""
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    """Drop a finished worker's live gauges from the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
