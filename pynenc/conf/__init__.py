"""Declarative, layered configuration of pynenc apps and tasks.

Values come from, highest first: assignment, environment (``PYNENC__<OPTION>``,
``PYNENC__<SECTION>__<OPTION>``), ``config_values``, a config file, ``pyproject.toml``
``[tool.pynenc]``, defaults. See ``docs/configuration.md`` for every option.
"""

from pynenc.conf.app_config import AppConfig, BrokerConfig, RunnerConfig
from pynenc.conf.option import (
    InvalidValue,
    Option,
    OptionTable,
    OptionValue,
    boolean,
    choice,
    choices_text,
    enum_member,
    exception_refs,
    integer,
    json_object,
    number,
    string_tuple,
    text,
)
from pynenc.conf.task_config import (
    TASK_OPTION_NAMES,
    ConcurrencyControlType,
    TaskConfig,
    task_env_key,
    task_option_table,
)

__all__ = [
    # application configuration
    "AppConfig",
    "BrokerConfig",
    "RunnerConfig",
    # task configuration
    "ConcurrencyControlType",
    "TASK_OPTION_NAMES",
    "TaskConfig",
    "task_env_key",
    # introspection
    "OptionValue",
    # declaring options: a layer's Task subclass lists its own in ``extra_options``
    "Option",
    "OptionTable",
    "InvalidValue",
    "task_option_table",
    "boolean",
    "choice",
    "choices_text",
    "enum_member",
    "exception_refs",
    "integer",
    "json_object",
    "number",
    "string_tuple",
    "text",
]
