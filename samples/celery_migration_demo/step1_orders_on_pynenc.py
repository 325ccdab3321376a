"""Step 1: ``orders/tasks.py`` migrated, ``billing`` still on Celery, side by side.

``python step1_orders_on_pynenc.py`` (no server: everything in this process). The code
deployed that day is the two trees mixed package by package (``shop_steps.use_trees``):
``orders`` from ``shop/`` (one import line changed), ``proj``, ``billing`` and the
``storefront`` views from ``shop_original/``. The project's app is the same real
``celery.Celery``, and the migrated tasks follow its settings (broker, result backend,
routes).

Two workers run: the Celery worker as before, for billing's tasks, and a pynenc runner
built from the same app, for the orders' tasks. The views do not change and give step 0's
results. The checkout crosses the two systems: its canvas (a chord of chains) runs on
pynenc and its last step sends billing's ``charge`` to Celery; the view then reads the
charge's result from Celery by its id.
"""

import shop_steps


def main() -> None:
    shop_steps.use_trees(orders=shop_steps.MIGRATED)
    import proj
    from billing import tasks as billing
    from orders import tasks as orders
    from storefront import views

    print("step 1: orders/tasks.py migrated, billing still on Celery")
    shop_steps.show_layout([orders, billing])
    runs = shop_steps.Runs()
    app = proj.celery_app
    with shop_steps.celery_worker(app), shop_steps.pynenc_runner(app):
        print()
        shop_steps.run_views(views)
        shop_steps.cross_app_chain(orders, billing)
    print()
    runs.show()
    runs.expect(orders="pynenc", billing="celery")
    print("\nstep 1 OK: orders ran on pynenc, billing on Celery, with step 0's results")


if __name__ == "__main__":
    main()
