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
    assert shown == f"redis://user:{HIDDEN}@db.example:notaport/1"
    assert masked_url("redis://db.example:notaport/1") == "redis://db.example:notaport/1"


def test_a_password_with_an_unencoded_slash_is_hidden_whole() -> None:
    # URL parsers end the host part at the "/": the password must not show in part
    shown = masked_url("redis://:Xy7/kQ9Secret@127.0.0.1:6379/0")
    assert "Xy7" not in shown and "kQ9" not in shown
    assert shown == f"redis://:{HIDDEN}@127.0.0.1:6379/0"


def test_urls_without_a_password_are_shown_as_written() -> None:
    for url in ("bogus://x", "redis://", "redis://cache:6379/0", "redis://user@cache/0"):
        assert masked_url(url) == url


def test_each_url_of_a_failover_list_is_masked() -> None:
    shown = masked_url("amqp://u:one@a//;amqp://u:two@b//")
    assert shown == f"amqp://u:{HIDDEN}@a//;amqp://u:{HIDDEN}@b//"
