"""gunicorn settings that run each worker under pyinstrument (``run.py --profile``).

Each worker profiles itself from its start to its exit and writes what it
saw to ``$LEDGER_PROFILE_DIR/profile-<page>-<pid>.txt``. Time a worker spent
waiting for the next request shows under gunicorn's own loop; the page's
work is under ``handle_request``.
"""

import os

from pyinstrument import Profiler


def post_worker_init(worker):
    worker.profiler = Profiler(interval=0.0005)
    worker.profiler.start()


def worker_exit(server, worker):
    profiler = getattr(worker, "profiler", None)
    if profiler is None or not profiler.is_running:
        return
    profiler.stop()
    page = os.environ["LEDGER_PROFILE_PAGE"].replace(" ", "-")
    path = os.path.join(os.environ["LEDGER_PROFILE_DIR"], f"profile-{page}-{os.getpid()}.txt")
    with open(path, "w") as fh:
        fh.write(profiler.output_text(unicode=True, color=False, show_all=False))
