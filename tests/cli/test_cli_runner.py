"""The command's surface through click's ``CliRunner``: options, environment variables, usage errors, messages."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

import lockcloud
from lockcloud import (
    EnrollmentResult,
    EnrollmentStatus,
    EventStreamError,
    RemoteUnlockDisabledError,
    UnlockType,
)
from lockcloud.cli import cli
from lockcloud.cli._enrolling import interruption_note
from lockcloud.cli._errors import describe_error
from lockcloud.enums import RemoteUnlockType

UNREACHABLE = ["--access-id", "a", "--access-secret", "b", "--base-url", "http://127.0.0.1:9"]


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("ACCESS_ID", "ACCESS_SECRET", "REGION", "BASE_URL", "PULSAR_URL", "SUBSCRIPTION"):
        monkeypatch.delenv(f"LOCKCLOUD_{name}", raising=False)
    return CliRunner()


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"lockcloud {lockcloud.__version__}\n"


def commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= commands(command, f"{prefix}{name} ")
        else:
            found[f"{prefix}{name}"] = command
    return found


def test_every_command_that_prints_data_has_json() -> None:
    every = commands(cli)
    assert set(every) == {
        "demo",
        "sim serve",
        "keys",
        "enroll",
        "unlock",
        "remote-unlock",
        "listen",
        "history",
        "status",
        "members list",
        "members add",
        "members rename",
        "members give-key",
        "doctor",
        *(
            f"codes {name}"
            for name in (
                "create",
                "list",
                "show",
                "freeze",
                "unfreeze",
                "delete",
                "clear",
                "offline",
                "dynamic",
            )
        ),
    }
    for name, command in every.items():
        assert "--json" in {opt for param in command.params for opt in param.opts}, name


def test_connection_options_come_from_the_environment(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["keys", "d"], env={"LOCKCLOUD_REGION": "mars"})
    assert result.exit_code == 2
    assert "LOCKCLOUD_REGION" in result.output
    assert "'mars' is not one of" in result.output
    help_text = runner.invoke(cli, ["unlock", "--help"]).output
    for variable in (
        "LOCKCLOUD_ACCESS_ID",
        "LOCKCLOUD_ACCESS_SECRET",
        "LOCKCLOUD_REGION",
        "LOCKCLOUD_BASE_URL",
    ):
        assert variable in help_text
    only_id = runner.invoke(cli, ["keys", "d"], env={"LOCKCLOUD_ACCESS_ID": "abc"})
    assert only_id.exit_code == 1
    assert "access secret is missing: pass --access-secret or set LOCKCLOUD_ACCESS_SECRET" in only_id.output


def test_keys_prints_nothing_before_failing(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["keys", "front-door", "--user", "u1", "--unassigned", *UNREACHABLE])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("lockcloud: cannot connect")
    assert result.stderr.count("\n") == 1


def test_user_type_takes_names(runner: CliRunner) -> None:
    refused = runner.invoke(cli, ["keys", "d", "--user", "u", "--user-type", "1", *UNREACHABLE])
    assert refused.exit_code == 2
    assert "'1' is not one of 'home', 'non-home'" in refused.output
    help_text = " ".join(runner.invoke(cli, ["enroll", "--help"]).output.split())
    assert "--user-type [home|non-home]" in help_text
    # A name is accepted (the command goes on to fail on the unreachable URL, past option parsing).
    accepted = runner.invoke(cli, ["keys", "d", "--user", "u", "--user-type", "NON-HOME", *UNREACHABLE])
    assert accepted.exit_code == 1
    assert "cannot connect" in accepted.stderr


def test_push_encryption_and_subscription_have_help(runner: CliRunner) -> None:
    serve_help = " ".join(runner.invoke(cli, ["sim", "serve", "--help"]).output.split())
    assert "--push-encryption [aes_gcm|aes_ecb]" in serve_help
    assert "How the simulator encrypts push messages" in serve_help
    enroll_help = " ".join(runner.invoke(cli, ["enroll", "--help"]).output.split())
    assert "--subscription TEXT Pulsar subscription" in enroll_help
    assert "LOCKCLOUD_SUBSCRIPTION" in enroll_help


def test_usage_errors_exit_2(runner: CliRunner) -> None:
    assert runner.invoke(cli, ["enroll", "d"]).exit_code == 2  # --user is required
    assert runner.invoke(cli, ["keys", "d", "--type", "telepathy"]).exit_code == 2
    assert runner.invoke(cli, ["listen", "--duration", "-1"]).exit_code == 2
    both = runner.invoke(cli, ["remote-unlock", "d", "--enable", "with-pin", "--disable", "with-pin"])
    assert both.exit_code == 2
    assert "--enable and --disable both name with-pin" in both.output


def test_remote_unlock_disabled_names_the_command_that_fixes_it() -> None:
    error = RemoteUnlockDisabledError("dev-1", RemoteUnlockType.WITHOUT_PASSWORD.value)
    message = describe_error(error)
    assert "`lockcloud remote-unlock dev-1 --enable without-pin`" in message
    assert "set_method_enabled" not in message
    with_pin = describe_error(RemoteUnlockDisabledError("dev-1", RemoteUnlockType.WITH_PASSWORD.value))
    assert "remote unlock with a PIN is switched off on dev-1" in with_pin
    assert "--enable with-pin" in with_pin


def test_push_channel_and_unknown_device_errors_name_their_fix(runner: CliRunner) -> None:
    refused = EventStreamError(
        "cannot subscribe to 'a/out/event' as 'a-sub' at pulsar://127.0.0.1:9: Timeout"
    )
    message = describe_error(refused)
    assert message.startswith("cannot subscribe to 'a/out/event'")
    assert "check --pulsar-url or LOCKCLOUD_PULSAR_URL" in message
    assert "`lockcloud doctor` checks the push channel" in message
    unknown = runner.invoke(cli, ["keys", "no-such-lock", "--sim"])
    assert unknown.exit_code == 1
    assert unknown.stdout == ""
    assert "DeviceNotFoundError" in unknown.stderr
    assert "check the device id" in unknown.stderr
    assert "`lockcloud doctor --device ID`" in unknown.stderr


def result(status: EnrollmentStatus, cancel_confirmed: bool | None = None) -> EnrollmentResult:
    return EnrollmentResult(status, "dev-1", UnlockType.CARD, cancel_confirmed=cancel_confirmed)


def test_interruption_note_says_what_was_left_on_the_lock() -> None:
    assert interruption_note(result(EnrollmentStatus.CANCELLED, True)) == (
        "interrupted: cancelled the card enrollment on dev-1; the lock confirmed"
    )
    unconfirmed = interruption_note(result(EnrollmentStatus.CANCELLED, False))
    assert (
        "asked the lock to cancel the card enrollment on dev-1; it did not confirm within 1 s" in unconfirmed
    )
    assert "a cancel was sent" in interruption_note(result(EnrollmentStatus.CANCELLED))
    assert "nothing to cancel" in interruption_note(result(EnrollmentStatus.IN_PROGRESS))
    assert "had completed" in interruption_note(result(EnrollmentStatus.COMPLETED))


def test_sim_keys_by_user_type_name_in_json(runner: CliRunner) -> None:
    done = runner.invoke(
        cli, ["keys", "front_door", "--sim", "--user", "sim-alice", "--user-type", "home", "--json"]
    )
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    assert document["device_id"] == "sim-front-door"
    assert [key["unlock_no"] for key in document["assigned"]] == [1, 2]
    assert "embedded simulator" in done.stderr
