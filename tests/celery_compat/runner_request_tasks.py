"""Tasks for the runner-side request tests: one reads every request field, one none."""

from typing import Any

from pynenc_celery_compat import Celery

# not the current app: the shared tasks of other test modules must not bind to this one
app = Celery("runner_request", broker="memory://", backend="cache+memory://", set_as_current=False)


@app.task(bind=True)
def describe(self: Any, x: int) -> dict[str, Any]:
    request = self.request
    return {
        "id": request.id,
        "args": request.args,
        "retries": request.retries,
        "is_eager": request.is_eager,
        "called_directly": request.called_directly,
        "hostname": request.hostname,
        "parent_id": request.parent_id,
        "root_id": request.root_id,
        "headers": request.headers,
        "delivery_info": request.delivery_info,
        "eta": request.eta,
        "expires": request.expires,
        "eta_again": request.eta,
    }


@app.task(bind=True)
def plain(self: Any, x: int) -> list[Any]:
    return [self.request.id, self.request.retries, x]
