"""Found by autodiscover_tasks (related_name "tasks")."""

from pynenc_celery_compat import shared_task

IMPORTED = True


@shared_task(name="config_pkgs.alpha.square")
def square(x: int) -> int:
    return x * x
