"""Found by autodiscover_tasks(related_name="jobs")."""

from pynenc_celery_compat import shared_task


@shared_task(name="config_pkgs.beta.negate")
def negate(x: int) -> int:
    return -x
