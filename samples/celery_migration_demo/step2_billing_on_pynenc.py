"""Step 2: ``billing/tasks.py`` migrated too: everything on pynenc, the beat schedule too.

``python step2_billing_on_pynenc.py`` (no server: everything in this process). The whole
project comes from ``shop/``, the end of the migration: both apps' ``tasks.py`` and
``proj/settings.py`` (its ``crontab`` import) changed by one import line each;
``proj/celery.py`` is unchanged, a real ``celery.Celery``. One pynenc runner runs
everything; no Celery worker is started.

The beat schedule (``CELERY_BEAT_SCHEDULE``) needs no beat process: each entry becomes a
pynenc trigger on its task, which the runners evaluate (``pynenc_celery_compat.beat_install``;
``pynenc-celery -A proj worker`` installs them when it starts). So that the demo need not
wait for 02:00, the trigger pass reads an injected clock (``trigger.clock``), set a few
seconds before the nightly run and then moved past it. A ``celery beat`` still deployed
from before would send the same entries: its send is dropped (the runners run them, once).
"""

import datetime as dt
from zoneinfo import ZoneInfo

import shop_steps
from celery.beat import Scheduler

from pynenc_celery_compat import beat_install
from pynenc_celery_compat.bridge import pynenc_app_for

ZONE = ZoneInfo("Europe/Madrid")  # CELERY_TIMEZONE
#: the demo's "now" when the runner starts: 30 s before the nightly invoices
START = dt.datetime(2025, 6, 2, 1, 59, 30, tzinfo=ZONE)


def main() -> None:
    shop_steps.use_trees(**dict.fromkeys(shop_steps.PACKAGES, shop_steps.MIGRATED))
    import proj
    from billing import tasks as billing
    from orders import tasks as orders
    from proj import settings
    from storefront import views

    print("step 2: billing/tasks.py migrated too: everything on pynenc")
    shop_steps.show_layout([orders, billing, settings])
    runs = shop_steps.Runs()
    app = proj.celery_app
    pynenc = pynenc_app_for(app)  # the pynenc app built from the Celery app's settings
    now = [START.timestamp()]
    pynenc.trigger.clock = lambda: now[0]
    entries = beat_install.install(app, pynenc)  # what a worker does as it starts
    print("\nCELERY_BEAT_SCHEDULE, as pynenc triggers:")
    for line in beat_install.describe(entries, str(ZONE), now[0]):
        print(f"  {line}")
    with shop_steps.pynenc_runner(app):
        print()
        shop_steps.run_views(views)
        shop_steps.cross_app_chain(orders, billing)
        shop_steps.wait_for_trigger_pass(pynenc)  # it starts the interval's count
        print(f"\nthe clock moves from {START:%H:%M:%S} to 02:00:01")
        now[0] = (START + dt.timedelta(seconds=31)).timestamp()
        for run in runs.wait_for("billing.tasks.send_invoices", 2)[1:]:
            shop_steps.show_fired(run, ZONE)
        for run in runs.wait_for("billing.tasks.ping_gateway", 1):
            shop_steps.show_fired(run, ZONE)
        print("celery beat, still deployed from before, sends nightly-invoices too:")
        old_beat = Scheduler(app, lazy=True)  # Celery's own beat scheduler, unchanged
        old_beat.setup_schedule()
        sent = old_beat.apply_async(old_beat.schedule["nightly-invoices"])  # a warning says why
        print(f"  its apply_async returned {sent}: not sent, the runners ran the entry")
    print()
    runs.show()
    runs.expect(orders="pynenc", billing="pynenc")
    if len(runs.of("billing.tasks.send_invoices")) != 2:
        raise SystemExit("the nightly invoices ran more than once")
    print("\nstep 2 OK: every task and the beat schedule ran on pynenc, with step 0's results")


if __name__ == "__main__":
    main()
