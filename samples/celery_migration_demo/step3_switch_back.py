"""Step 3: billing switched back to Celery by configuration, the code left as it is.

``python step3_switch_back.py`` (no server: everything in this process). The project is
step 2's, all from ``shop/`` (both apps migrated); one environment variable, set at deploy
time for every process (web, workers, beat), sends billing's tasks back to Celery:

    PYNENC_CELERY_TASKS=billing.tasks

(or, in the settings every process loads, ``CELERY_PYNENC_CELERY_TASKS = ["billing.tasks"]``;
see docs/celery.md, "Switching back to Celery"). Billing's tasks then publish Celery
messages again, run on the Celery worker and keep their results in Celery's result
backend; the orders' tasks stay on pynenc. The beat entries of billing's tasks are left
to ``celery beat`` again, which sends them to the Celery worker.
"""

import os
import warnings

import shop_steps
from celery.beat import Scheduler

from pynenc_celery_compat import beat_install, routing
from pynenc_celery_compat.bridge import pynenc_app_for

#: the rollback: a deploy-time setting, read once per process (before the first call)
SWITCH = "billing.tasks"


def main() -> None:
    os.environ["PYNENC_CELERY_TASKS"] = SWITCH
    shop_steps.use_trees(**dict.fromkeys(shop_steps.PACKAGES, shop_steps.MIGRATED))
    import proj
    from billing import tasks as billing
    from orders import tasks as orders
    from storefront import views

    print(f"step 3: PYNENC_CELERY_TASKS={SWITCH}, the code as in step 2")
    shop_steps.show_layout([orders, billing])
    app = proj.celery_app
    print(f"switched back to Celery: {', '.join(routing.switched_back(app))}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same reasons as describe() prints below
        entries = beat_install.install(app, pynenc_app_for(app))
    print("\nCELERY_BEAT_SCHEDULE, as a pynenc runner reads it:")
    for line in beat_install.describe(entries, "Europe/Madrid"):
        print(f"  {line}")
    runs = shop_steps.Runs()
    with shop_steps.celery_worker(app), shop_steps.pynenc_runner(app):
        print()
        shop_steps.run_views(views)
        shop_steps.cross_app_chain(orders, billing)
        print("\ncelery beat, kept running for billing, sends nightly-invoices when due:")
        beat = Scheduler(app, lazy=True)  # Celery's own beat scheduler
        beat.setup_schedule()
        beat.apply_async(beat.schedule["nightly-invoices"])
        (run,) = [run for run in runs.wait_for("billing.tasks.send_invoices", 2) if run["beat"]]
        print(f"  {run['task']} ran on {run['worker']}")
    print()
    runs.show()
    runs.expect(orders="pynenc", billing="celery")
    print("\nstep 3 OK: billing back on Celery by configuration, with step 0's results")


if __name__ == "__main__":
    main()
