"""Step 0: the shop before the migration, every task on a Celery worker.

``python step0_all_celery.py`` (no server: everything in this process). The whole project
comes from ``shop_original/``: ``proj`` (settings with the ``CELERY_`` namespace, the real
``celery.Celery`` app), the ``orders`` and ``billing`` apps (Celery's ``shared_task``) and
the ``storefront`` views that call them. The results printed here are what every later
step must give again.
"""

import shop_steps


def main() -> None:
    shop_steps.use_trees()  # every package from shop_original/
    import proj
    from billing import tasks as billing
    from orders import tasks as orders
    from storefront import views

    print("step 0: the original project, all on Celery")
    shop_steps.show_layout([orders, billing])
    runs = shop_steps.Runs()
    with shop_steps.celery_worker(proj.celery_app):
        print()
        shop_steps.run_views(views)
        shop_steps.cross_app_chain(orders, billing)
    print()
    runs.show()
    runs.expect(orders="celery", billing="celery")
    print("\nstep 0 OK: every task ran on the Celery worker")


if __name__ == "__main__":
    main()
