"""Settings read from environment variables with pydantic-settings; the base of every package's ``*Settings``.

Each settings class (``store.settings.Settings``, ``connectors.settings.Settings``, ``console.settings`` ...)
subclasses :class:`EnvSettings`, declares its fields with defaults and ranges, and is read with
``from_env(env)``. Two rules keep it predictable:

* Building a class directly (``ConsoleSettings()``) takes only the values given and the defaults; the
  environment is read by ``from_env`` alone, never at import time or behind a test's back.
* A variable that is unset, empty or only spaces keeps the default (values are stripped), as the shell
  scripts and compose files that leave ``FOO=`` expect.

A bad value raises :class:`InvalidSettings` (a ``ValueError``), or the package's own subclass of it, whose
message names the variable, says what it must be and what was given; the processes that read settings at
start log it and exit with status 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, AliasChoices, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict


class InvalidSettings(ValueError):
    """The environment does not describe a usable configuration (the message names the variable)."""


class _Unreadable(Exception):  # noqa: N818 (internal signal, never leaves read())
    """A structured field's text is not the JSON pydantic-settings decodes it as."""

    def __init__(self, field: str, raw: object) -> None:
        super().__init__(field)
        self.field, self.raw = field, raw


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (``os.environ`` or a test's dict)."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._env = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Names match case-insensitively (pydantic-settings' default), so keys are lowercased; blank is unset.
        stripped = {name.lower(): value.strip() for name, value in self._env.items()}
        return {name: value for name, value in stripped.items() if value}

    def prepare_field_value(self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool) -> Any:
        try:
            return super().prepare_field_value(field_name, field, value, value_is_complex)
        except ValueError:  # pydantic-settings would say only "error parsing value for field ..."
            raise _Unreadable(field_name, value) from None


class EnvSettings(BaseSettings):
    """Frozen settings whose fields come from environment variables through :meth:`read`.

    Subclasses set ``model_config`` (an ``env_prefix``, or a ``validation_alias`` per field for variables
    that do not share one) and ``error`` (the exception family of their package).
    """

    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True)

    #: Raised on a bad value; a subclass of InvalidSettings so every process can catch them all.
    error: ClassVar[type[InvalidSettings]] = InvalidSettings

    def __init__(self, **values: Any) -> None:
        """Build from ``values`` and the defaults only.

        Raises:
            InvalidSettings: ``error`` of the class, naming the variable of each field that is invalid.
        """
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise type(self).error(type(self).describe(exc)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values given: the environment is read by :meth:`read`, never by the constructor."""
        return (init_settings,)

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None, **values: Any) -> Any:
        """Build the settings from ``env`` (default ``os.environ``); ``values`` win over it.

        Args:
            env: the environment.
            **values: fields the caller worked out itself (a secret read from a file, a nested group).

        Returns:
            The settings (typed ``Any`` so each ``from_env`` states its own return type).

        Raises:
            InvalidSettings: ``cls.error``, naming the variable that is invalid.
        """
        try:
            found = _MappingSource(cls, os.environ if env is None else env)()
        except _Unreadable as exc:
            name = cls.field_of(exc.field)[0]
            raise cls.error(f"{name} must be written as JSON (e.g. [\"a\", \"b\"]), got {exc.raw!r}") from None
        by_name = {cls._field_name(key): value for key, value in found.items()}
        return cls(**{**by_name, **values})

    @classmethod
    def _field_name(cls, key: str) -> str:
        """The field a source key (field name or variable name) fills, so ``values`` can replace it."""
        return next((name for name, info in cls.model_fields.items() if key in _aliases(info)), key)

    @classmethod
    def field_of(cls, key: str) -> tuple[str, FieldInfo | None]:
        """The environment variable and field of ``key`` (a field name or a variable name), for messages."""
        info = cls.model_fields.get(key)
        if info is not None:
            alias = _alias_of(info)
            return alias or f"{cls.model_config.get('env_prefix', '')}{key}".upper(), info
        found = next((f for f in cls.model_fields.values() if key in _aliases(f)), None)
        return key, found

    @classmethod
    def describe(cls, exc: ValidationError) -> str:
        """One sentence per problem, each naming its variable, what it must be and what it was."""
        return "; ".join(_sentence(cls, error) for error in exc.errors(include_url=False))


def _bounds(info: FieldInfo | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for meta in info.metadata if info is not None else ():
        for key in ("ge", "gt", "le", "lt"):
            if getattr(meta, key, None) is not None:
                found[key] = getattr(meta, key)
    return found


def _number(value: Any) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _range(bounds: dict[str, Any]) -> str:
    low = bounds.get("ge", bounds.get("gt"))
    high = bounds.get("le", bounds.get("lt"))
    if "ge" in bounds and "le" in bounds:
        return f"between {_number(low)} and {_number(high)}"
    parts = []
    if low is not None:
        parts.append(f"at least {_number(low)}" if "ge" in bounds else f"greater than {_number(low)}")
    if high is not None:
        parts.append(f"at most {_number(high)}" if "le" in bounds else f"less than {_number(high)}")
    return " and ".join(parts)


def _sentence(cls: type[EnvSettings], error: Any) -> str:
    sentence = _problem(cls, error)
    info = cls.field_of(str(error["loc"][0]))[1] if error["loc"] else None
    default = info.default if info is not None else None
    if isinstance(default, bool):
        return f"{sentence} (unset it for the default, {'on' if default else 'off'})"
    if isinstance(default, int | float) or (isinstance(default, str) and default and "://" not in default):
        return f"{sentence} (unset it for the default, {default})"
    return sentence


def _problem(cls: type[EnvSettings], error: Any) -> str:
    loc = error["loc"]
    if not loc:  # a check across fields: its message says everything
        return str(error["msg"]).removeprefix("Value error, ")
    field = str(loc[0])
    name, info = cls.field_of(field)
    kind = error["type"]
    # A secret's value (repr=False) is never repeated: the message goes to logs.
    got = f", got {error.get('input')!r}" if info is None or info.repr else ""
    # A field's description is its unit ("seconds"): "a whole number of seconds", "between 1 and 60 seconds".
    unit = info.description if info is not None and info.description else ""
    bounds = _range(_bounds(info))
    if kind in ("int_parsing", "int_from_float", "int_type", "float_parsing", "float_type", "finite_number"):
        number = "a whole number" if kind.startswith("int") else "a number"
        return f"{name} must be {number}{' of ' + unit if unit else ''}{' ' + bounds if bounds else ''}{got}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return f"{name} must be {bounds}{' ' + unit if unit else ''}{got}"
    if kind == "string_pattern_mismatch":
        looks = info.examples[0] if info is not None and info.examples else f"the pattern {error['ctx']['pattern']}"
        return f"{name} must look like {looks}{got}"
    if kind == "bool_parsing":
        return f"{name} must be true or false{got}"
    if kind == "literal_error":
        return f"{name} must be {error['ctx']['expected']}{got}"
    if kind == "missing":
        return f"{name} is required"
    if kind == "string_too_short":
        return f"{name} must not be empty"
    if kind == "extra_forbidden":
        return f"{cls.__name__} has no setting {field!r}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message if message.startswith(name) else f"{name} {message}"


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL, got {url!r}")
    return url


#: A string that must be an absolute http(s) URL (``RASA_URL``, ``TELEGRAM_API_BASE_URL`` ...).
HttpURL = Annotated[str, AfterValidator(_http_url)]


def _aliases(info: FieldInfo) -> tuple[str, ...]:
    alias = info.validation_alias
    if isinstance(alias, str):
        return (alias,)
    if isinstance(alias, AliasChoices):
        return tuple(choice for choice in alias.choices if isinstance(choice, str))
    return ()


def _alias_of(info: FieldInfo) -> str | None:
    return next(iter(_aliases(info)), None)
