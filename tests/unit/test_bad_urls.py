"""A wrong broker or state backend URL is a clear ConfigError, and a call leaves nothing behind."""

from __future__ import annotations

import kombu.transport
import pytest

from pynenc import Pynenc
from pynenc.broker import KombuBroker
from pynenc.exceptions import ConfigError, InvocationNotFoundError
from pynenc.state_backend import create_state_backend

SECRET = "s3cret-pw"


def double(x: int) -> int:
    return 2 * x


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("foo://host", "scheme 'foo' is not a kombu transport"),
        ("rdis://host:6379/0", "did you mean 'redis://'?"),
        (f"redis://:{SECRET}@host:notaport/1", "the port 'notaport' is not a number"),
        (f"amqp://guest:{SECRET}@mq:99999//", "the port '99999' is not a number"),
        (f"redis://:{SECRET}@:6379/0", "names no host"),
        ("redis://", "names no host"),
        ("redis://host/cache", "the database 'cache' is not a number"),
        ("localhost:6379", "not a URL"),
        ("redis://a:6379;redis://b:x", "the port 'x' is not a number"),
        ("sqlite://", "No database file"),
        ("foo.bar://x", "scheme 'foo.bar' is not a kombu transport"),
        ("Reddis://x", "did you mean 'redis://'?"),
        (f"redis://:{SECRET}@h;reddis://:{SECRET}@h", "did you mean 'redis://'?"),
    ],
)
def test_broker_url_errors_name_option_value_and_forms(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        KombuBroker(url, "bad-urls")
    message = str(info.value)
    assert problem in message
    assert "broker_url" in message and "PYNENC__BROKER_URL" in message
    assert "redis://[:password@]host[:port][/db]" in message and "sqs://" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "url", ["memory://", "redis://localhost:6379/0", "amqp://u:p@h:5672//", "redis+socket:///x"]
)
def test_good_broker_urls_pass(url: str) -> None:
    KombuBroker(url, "good-urls").close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mem://", "did you mean 'memory://'?"),
        ("postgres://db/x", "scheme 'postgres' is not a state backend"),
        (f"redis://:{SECRET}@host:notaport/1", "the port 'notaport' is not a number"),
        (f"redis://:{SECRET}@:6379/1", "names no host"),
        ("redis://host/x", "the database 'x' is not a number"),
        ("sqlite://state.db", "names no SQLite database file"),
        ("state.db", "not a URL"),
    ],
)
def test_state_backend_url_errors_name_option_value_and_forms(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        create_state_backend(url, "bad-urls")
    message = str(info.value)
    assert problem in message
    assert "state_backend_url" in message and "PYNENC__STATE_BACKEND_URL" in message
    assert "sqlite:////absolute/path.db" in message and "memory://" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "broker_url", ["nosuchtransport://host", f"redis://:{SECRET}@host:notaport/1"]
)
def test_call_with_bad_broker_url_registers_nothing(broker_url: str) -> None:
    app = Pynenc(config_values={"app_id": "bad-urls", "broker_url": broker_url})
    task = app.task(double)
    with pytest.raises(ConfigError, match="broker_url"):
        task(1)
    with pytest.raises(ConfigError, match="broker_url"):
        task.parallelize([(i,) for i in range(3)])
    assert app.state_backend.find() == []


def test_not_found_errors_show_the_state_url_masked() -> None:
    app = Pynenc(config_values={"app_id": "bad-urls"})
    assert app.state_backend is not None  # built on memory://; the URL below is only shown
    app.conf.state_backend_url = f"redis://:{SECRET}@db.example:6379/1"
    with pytest.raises(InvocationNotFoundError) as one:
        app.orchestrator.get_record("nope")
    with pytest.raises(InvocationNotFoundError) as many:
        app.orchestrator.wait_final_many(["nope"], timeout=0.1)
    for error in (one.value, many.value):
        assert SECRET not in str(error) and "db.example" in str(error)


def test_an_unencoded_slash_in_a_password_is_named_not_echoed() -> None:
    app = Pynenc({"broker_url": "redis://:Xy7/kQ9Secret@127.0.0.1:6379/0"})
    with pytest.raises(ConfigError) as raised:
        _ = app.broker
    message = str(raised.value)
    assert "Xy7" not in message and "kQ9" not in message
    assert "percent-encoded" in message and "broker_url" in message


@pytest.fixture
def missing_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two kombu transports whose client library is missing: one fails when built
    (``nolib://``), the other when its module is imported (``nomodule://``)."""
    aliases = kombu.transport.TRANSPORT_ALIASES
    monkeypatch.setitem(aliases, "nolib", "tests.apps.missing_client_transports:Transport")
    monkeypatch.setitem(aliases, "nomodule", "tests.apps.missing_client_module:Transport")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            f"nolib://user:{SECRET}@host",
            "kombu's 'nolib' transport cannot be loaded (ImportError: Missing "
            "pynenc-fake-client library)",
        ),
        (
            "nomodule://host",
            "kombu's 'nomodule' transport cannot be loaded (ModuleNotFoundError: No module "
            "named 'pynenc_no_such_client_library')",
        ),
    ],
)
@pytest.mark.usefixtures("missing_clients")
def test_a_transport_without_its_client_library_is_a_config_error(url: str, problem: str) -> None:
    app = Pynenc(config_values={"app_id": "bad-urls-lib", "broker_url": url})
    for build in (lambda: app.broker, app.runner.preflight, lambda: app.task(double)(1)):
        with pytest.raises(ConfigError) as info:
            build()
        message = str(info.value)
        assert problem in message and "install the client library" in message
        assert "broker_url" in message and "PYNENC__BROKER_URL" in message
        assert SECRET not in message
    assert app.state_backend.find() == []


def test_a_missing_library_of_a_kombu_extra_names_the_extra() -> None:
    from pynenc.broker.transports import _install_hint

    assert _install_hint("sqs") == "; install its client library: pip install 'kombu[sqs]'"
    assert _install_hint("kafka").endswith("pip install 'kombu[confluentkafka]'")
    assert _install_hint("SLMQ").endswith("pip install 'kombu[slmq]'")
