"""What the plugin registers, and how its configuration tables are checked at load time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import telltales_notify
from telltales.config import load_config
from telltales.errors import ConfigError
from telltales.playbooks.plan import load_plan
from telltales.plugins import load_registry
from telltales.testing import PluginHarness
from telltales_notify.crm import HttpCrmAdapter
from telltales_notify.mail import EmailAction
from telltales_notify.settings import (
    EmailParams,
    EmailSettings,
    HttpCrmSettings,
    WebhookParams,
    WebhookSettings,
)
from telltales_notify.webhook import WebhookAction


def test_registers_two_actions_and_a_crm_adapter(telltales_env: PluginHarness) -> None:
    telltales_env.register(telltales_notify, name="notify")

    registry = telltales_env.registry
    actions = {
        name: entry.obj for name, entry in registry.actions.items() if entry.plugin == "notify"
    }
    assert {name: type(obj) for name, obj in actions.items()} == {
        "email": EmailAction,
        "webhook": WebhookAction,
    }
    assert not any(obj.reaches_customer for obj in actions.values())
    assert [(obj.params_type, obj.settings_type) for obj in actions.values()] == [
        (EmailParams, EmailSettings),
        (WebhookParams, WebhookSettings),
    ]
    adapters = {
        name: type(entry.obj)
        for name, entry in registry.crm_adapters.items()
        if entry.plugin == "notify"
    }
    assert adapters == {"http": HttpCrmAdapter}


def test_every_setting_has_its_documented_default() -> None:
    assert msgspec.to_builtins(EmailSettings()) == {
        "host": "localhost",
        "port": 25,
        "sender": "telltales@localhost",
        "username": "",
        "password_env": "",
        "starttls": False,
        "ssl": False,
        "timeout_seconds": 10.0,
        "internal_domains": [],
    }
    assert msgspec.to_builtins(WebhookSettings()) == {
        "secret_env": "TELLTALES_WEBHOOK_SECRET",
        "timeout_seconds": 10.0,
    }
    assert msgspec.to_builtins(EmailParams(to=["manager"])) == {"to": ["manager"], "subject": ""}


@pytest.mark.parametrize(
    ("struct", "table", "message"),
    [
        (EmailParams, {"to": []}, "Expected `array` of length >= 1 - at `$.to`"),
        (
            EmailParams,
            {"to": ["owner", "Li Chen <li.chen@vendor.example>"]},
            "to[1]: 'Li Chen <li.chen@vendor.example>' is not 'owner', 'manager' or an email "
            "address",
        ),
        (EmailParams, {"to": ["owner"], "subjct": "x"}, "Object contains unknown field `subjct`"),
        (
            EmailSettings,
            {"port": 465, "ssl": True, "starttls": True},
            "ssl and starttls exclude each other: choose one",
        ),
        (
            EmailSettings,
            {"username": "telltales"},
            "username is set: password_env must name the password's variable",
        ),
        (
            EmailSettings,
            {"sender": "telltales"},
            "sender 'telltales' is not an email address",
        ),
        (EmailSettings, {"port": 0}, "Expected `int` >= 1 - at `$.port`"),
        (EmailSettings, {"timeout_seconds": 0}, "Expected `float` > 0.0 - at `$.timeout_seconds`"),
        (
            EmailSettings,
            {"username": "u", "password_env": "hunter2!"},
            "Expected `str` matching regex '^([A-Za-z_][A-Za-z0-9_]*)?$' - at `$.password_env`",
        ),
        (EmailSettings, {"password": "hunter2"}, "Object contains unknown field `password`"),
        (
            WebhookParams,
            {"url": "hooks.vendor.example/telltales"},
            "url must be an absolute http:// or https:// URL with a host",
        ),
        (
            WebhookParams,
            {"url": "ftp://hooks.vendor.example/telltales"},
            "url must be an absolute http:// or https:// URL with a host",
        ),
        (
            WebhookParams,
            {"url": "https://hooks.vendor.example/tell tales"},
            "url must not contain whitespace",
        ),
        (WebhookSettings, {"secret": "s3cret"}, "Object contains unknown field `secret`"),
        (HttpCrmSettings, {}, "Object missing required field `url`"),
        (
            HttpCrmSettings,
            {"url": "https:///opportunities"},
            "url must be an absolute http:// or https:// URL with a host",
        ),
    ],
)
def test_configuration_mistakes_are_refused_with_a_reason(
    struct: type[msgspec.Struct], table: dict[str, Any], message: str
) -> None:
    with pytest.raises(msgspec.ValidationError) as refused:
        msgspec.convert(table, struct)

    assert str(refused.value) == message


def test_valid_tables_decode() -> None:
    assert msgspec.convert(
        {"to": ["owner", "manager", "cs-leads@vendor.example"]}, EmailParams
    ) == EmailParams(to=["owner", "manager", "cs-leads@vendor.example"])
    assert msgspec.convert(
        {
            "host": "smtp.vendor.example",
            "port": 587,
            "starttls": True,
            "username": "telltales",
            "password_env": "SMTP_PASSWORD",
        },
        EmailSettings,
    ).starttls
    assert (
        msgspec.convert(
            {"url": "https://hooks.slack.com/services/T000/B000/XXXX"}, WebhookParams
        ).secret_env
        == ""
    )
    assert (
        msgspec.convert(
            {"url": "http://crm-bridge.internal:8080/flags", "token_env": "CRM_TOKEN"},
            HttpCrmSettings,
        ).timeout_seconds
        == 10.0
    )


CUSTOMER_STEP = """\
[actions.email]
internal_domains = ["Vendor.example"]

[playbooks.reach_out]
on_enter = "at_risk"
steps = [{ action = "email", to = ["owner", "cfo@ferrum.example"]APPROVAL }]
"""


def test_an_email_outside_internal_domains_needs_approval(tmp_path: Path) -> None:
    registry = load_registry(extra=[("notify", telltales_notify)], use_entry_points=False)
    path = tmp_path / "telltales.toml"
    path.write_text(CUSTOMER_STEP.replace("APPROVAL", ""))
    with pytest.raises(ConfigError) as refused:
        load_plan(load_config(path), registry)
    assert str(refused.value) == (
        f"{path}, line 6: [playbooks.reach_out] step 1: cfo@ferrum.example is outside "
        "internal_domains (vendor.example): an email that reaches the customer needs "
        "approval = true on its step"
    )
    path.write_text(CUSTOMER_STEP.replace("APPROVAL", ", approval = true"))
    (step,) = load_plan(load_config(path), registry).playbooks["reach_out"].steps
    assert step.needs_approval
    path.write_text(
        CUSTOMER_STEP.replace("cfo@ferrum.example", "boss@vendor.example").replace("APPROVAL", "")
    )
    (step,) = load_plan(load_config(path), registry).playbooks["reach_out"].steps
    assert not step.needs_approval
