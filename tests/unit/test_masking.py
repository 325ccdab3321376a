"""Secrets never reach output: URLs lose their password, secret options show as hidden."""

from __future__ import annotations

from pynenc import Pynenc
from pynenc.conf.masking import HIDDEN, hidden, masked_url


def test_masked_url_hides_the_password_only() -> None:
    shown = masked_url("redis://user:s3cret@db.example:6379/1")
    assert "s3cret" not in shown
    assert shown == f"redis://user:{HIDDEN}@db.example:6379/1"


def test_masked_url_leaves_memory_and_sqlite_paths_alone() -> None:
    assert masked_url("sqlite:////var/lib/app/state.db") == "sqlite:////var/lib/app/state.db"
    assert masked_url("memory://") == "memory://"


def test_hidden_values_keep_their_shape() -> None:
    assert hidden("key") == HIDDEN
    assert hidden(["a", "b"]) == [HIDDEN, HIDDEN]
    assert hidden("") == ""
    assert hidden(None) is None


def test_describe_shows_urls_masked_but_keeps_the_real_value() -> None:
    app = Pynenc({"broker_url": "amqp://guest:hunter2@mq:5672//"})
    item = next(i for i in app.conf.describe() if i.name == "broker_url")
    assert item.value == "amqp://guest:hunter2@mq:5672//"
    assert "hunter2" not in str(item.shown)


def test_masked_url_of_an_unparsable_url_still_shows_host_and_port() -> None:
    # what is wrong with it (here the port) must stay visible; credentials must not
    shown = masked_url("redis://user:p@ss@db.example:notaport/1")
    assert shown == f"redis://{HIDDEN}@db.example:notaport/1"
    assert masked_url("redis://db.example:notaport/1") == "redis://db.example:notaport/1"
