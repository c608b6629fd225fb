"""`orders-bot console`: scripted sessions on the demo workspace, read as a person reads them.

Every step goes to the real app as a signed request over HTTP; the transcript is what a Slack
user would see, and what these tests check.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.console import ConsoleSession, run_console, start_bot
from bot.console_render import Screen

EXE = str(Path(sys.executable).with_name("orders-bot"))
PROMPT = re.compile(r"^(\w+)@(\S+)(?: \[[^\]]*\])?> (.*)$")


def run_script(tmp_path: Path, capsys: pytest.CaptureFixture[str], script: str) -> tuple[int, str]:
    """Run a script on a fresh demo workspace, in-process: its exit status and its transcript."""
    path = tmp_path / "script.txt"
    path.write_text(textwrap.dedent(script), encoding="utf-8")
    status = run_console(demo=True, as_user=None, script=path)
    return status, capsys.readouterr().out


def steps(transcript: str) -> list[tuple[str, str, str]]:
    """(who, command, what it showed) for every command echoed in a transcript."""
    found: list[tuple[str, str, str]] = []
    for line in transcript.splitlines():
        match = PROMPT.match(line)
        if match:
            found.append((match.group(1), match.group(3), ""))
        elif found:
            who, command, shown = found[-1]
            found[-1] = (who, command, shown + line + "\n")
    return found


def shown_by(transcript: str, command: str, who: str | None = None, nth: int = 0) -> str:
    """What the nth run of `command` (by `who`) showed."""
    matches = [
        shown for w, c, shown in steps(transcript) if c == command and (who is None or w == who)
    ]
    assert len(matches) > nth, f"{command!r} was not run {nth + 1} times:\n{transcript}"
    return matches[nth]


def buttons(shown: str) -> list[str]:
    """The numbered buttons' labels a step showed ("[12] Confirm" → "Confirm")."""
    return re.findall(r"\[\d+\] ([A-Za-z][\w ]*?)(?=   |$|\n)", shown, re.M)


@pytest.fixture
def session() -> Iterator[ConsoleSession]:
    """A console on a fresh demo workspace, as Ana, writing to a buffer."""
    bot = start_bot(demo=True)
    console = ConsoleSession(bot, Screen(io.StringIO()))
    try:
        yield console
    finally:
        console.close()
        bot.close()


def test_an_order_from_the_service_market_to_completed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ana orders, Pia accepts, Ben confirms, Pia submits, Ana rejects, Pia resubmits, Ana approves."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        /orders services
        click Order on Loyalty
        Mini program name = Acme Rewards Plus
        Applicable apps = Alipay+
        Contact name = Ana Lim
        Contact = ana@acme.test
        submit
        close
        as pia
        click Accept on SO-000013
        yes
        as ben
        click Confirm on SO-000013 --yes
        as pia
        click Submit for approval on SO-000013
        Note = Build 1.0
        Files = acme-rewards-1.0.zip
        submit
        as ana
        click Reject on SO-000013
        Reason = The stamps do not add up.
        submit
        as pia
        click Submit for approval on SO-000013
        submit
        as ana
        click Approve on SO-000013
        yes
        channel blue-pixel
        """,
    )
    assert status == 0, out
    market = shown_by(out, "/orders services")
    assert "Service Market" in market and "Loyalty mini program  [1] Order" in market
    form = shown_by(out, "click Order on Loyalty")
    assert "Order a service · modal" in form and "Mini program name" in form
    placed = shown_by(out, "submit", "ana")
    assert "SO-000013 is placed" in placed and "only visible to you" in placed
    card = shown_by(out, "as pia")
    assert "Acme Coffee placed SO-000013 (@ana)" in card and "New for" in card
    assert buttons(card)[-2:] == ["Accept", "Reject"]
    assert "Accept SO-000013?" in shown_by(out, "click Accept on SO-000013")
    accepted = shown_by(out, "yes", "pia")
    assert "· updated" in accepted and "Pending Confirmation" in accepted
    assert "Accepted by @pia" in accepted and "Waiting on Acme Coffee." in accepted
    assert "Confirm" in buttons(shown_by(out, "as ben"))
    assert "In Development" in shown_by(out, "click Confirm on SO-000013 --yes")
    submitted = shown_by(out, "submit", "pia")
    assert "Under Approval" in submitted and "(the modal closed)" in submitted
    rejected = shown_by(out, "submit", "ana", nth=1)
    assert "Rejected by @ana" in rejected and "The stamps do not add up." in rejected
    approved = shown_by(out, "yes", "ana")
    assert "Completed" in approved and "This order is finished." in approved
    assert buttons(approved) == []
    providers_channel = shown_by(out, "channel blue-pixel")
    shown = providers_channel.split("┌─ ")[1:]
    cards = [c for c in shown if "reply in a thread" not in c.splitlines()[0]]
    assert len(cards) == 1 and "Completed" in cards[0] and buttons(cards[0]) == []
    assert any(
        "approved SO-000013" in c for c in shown if c not in cards
    )  # the news, in its thread
    assert out.rstrip().endswith("steps succeeded.")
    assert "\x1b" not in out  # a transcript is plain text


def test_a_stale_button_is_refused_with_who_acted_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ana's open detail offers Confirm; Ben confirms first; Ana's click changes nothing."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        /orders view SO-000010
        as ben
        channel acme-orders
        /orders list pending confirmation
        click Confirm on SO-000010 --yes
        as ana
        click Confirm on SO-000010 --yes
        expect it was confirmed by @ben
        """,
    )
    assert status == 0, out
    refused = shown_by(out, "click Confirm on SO-000010 --yes", "ana")
    assert "SO-000010 is In Development: it was confirmed by @ben" in refused
    assert "only visible to you · updated" in refused  # the stale detail is redrawn
    assert "@ben confirmed · Pending Confirmation → In Development" in refused


def test_a_provider_cannot_act_for_the_merchant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pia never sees Confirm, and ordering a service is refused with her party named."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        as pia
        /orders view SO-000009
        /orders new loyalty
        """,
    )
    assert status == 0, out
    detail = shown_by(out, "/orders view SO-000009")
    assert "Pending Confirmation" in detail and "Confirm" not in buttons(detail)
    assert "Only merchants can order services; you are a member of Blue Pixel Studio" in shown_by(
        out, "/orders new loyalty"
    )


def test_a_blank_required_reason_is_refused_inside_the_modal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Empty: Slack's client keeps the form; blank: the app's error on the field; the modal stays."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        as pia
        /orders view SO-000007
        click Cancel
        submit
        Reason = "   "
        submit
        /orders view SO-000007
        """,
    )
    assert status == 0, out
    empty = shown_by(out, "submit", nth=0)
    assert "a required field is empty" in empty
    assert "⚠ Please complete this required field." in empty
    blank = shown_by(out, "submit", nth=1)
    assert "The app refused the form; it stays open" in blank
    assert "⚠ A reason is required" in blank and "Cancel SO-000007 · modal" in blank
    assert "In Development" in shown_by(out, "/orders view SO-000007", nth=1)
    assert re.search(r"^pia@#blue-pixel \[Cancel SO-000007\]> /orders view", out, re.M)


def test_waiting_lets_the_reminders_and_escalations_fire(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three days later (at least one weekday 09:30 falls in any three days): digest and DMs."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        wait 3d
        expect waiting on Acme Coffee
        as pia
        """,
    )
    assert status == 0, out
    waited = shown_by(out, "wait 3d")
    assert "⏰ The clock moved forward 3 days" in waited
    assert "Reminder for Acme Coffee posted in #acme-orders" in waited
    assert "orders waiting on Acme Coffee" in waited and "Snooze 1 day" in waited
    assert "orders-bot · direct message" in waited
    assert "SO-000005 has waited" in waited and "on Acme Coffee (Under Approval)" in waited
    assert "order waiting on Blue Pixel Studio" in shown_by(out, "as pia")


def test_select_home_and_a_click_in_the_home_tab(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A list filtered by its menu; the Home tab; Approve from the Home tab redraws it."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        /orders list
        select 1 Under Approval
        home
        click Approve on SO-000006 --yes
        """,
    )
    assert status == 0, out
    filtered = shown_by(out, "select 1 Under Approval")
    assert "· updated" in filtered and "orders, newest first (Under Approval)" in filtered
    assert "SO-000006" in filtered and "SO-000012" not in filtered
    home = shown_by(out, "home")
    assert "Home · orders-bot" in home and "Waiting on you (4)" in home
    approved = shown_by(out, "click Approve on SO-000006 --yes")
    assert "Waiting on you (3)" in approved and "Approved by @ana" in approved


@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("/orders help\nexpect Nothing like this is shown\n", "✗ expected 'Nothing like this"),
        ("dance\n", "✗ unknown command 'dance'"),
        ("click 99\n", "✗ nothing is numbered [99]"),
        ("/orders list\nclick Launch rocket\n", "✗ no button 'Launch rocket' is shown"),
        ("submit\n", "✗ no modal is open"),
        ("as nobody\n", "✗ nobody is called 'nobody'"),
        ("wait a while\n", "✗ wait how long?"),
    ],
)
def test_a_failed_step_makes_the_exit_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], script: str, says: str
) -> None:
    """The step says what was wrong, the rest still runs, and the run ends with status 1."""
    status, out = run_script(tmp_path, capsys, script + "/orders help\n")
    assert status == 1
    assert says in out
    assert "/orders help" in steps(out)[-1][1]
    assert re.search(r"✗ 1 of \d+ steps failed \(lines \d+\)", out)


def test_the_consoles_requests_are_signed(session: ConsoleSession) -> None:
    """What the console sends passes the app's signature check; the same body unsigned does not."""
    assert session.run("/orders help")
    sent = session.last_response
    assert sent is not None and sent.status == 200
    form = "application/x-www-form-urlencoded"
    assert session.sender.send(sent.request_body, form).status == 200
    assert session.sender.send(sent.request_body, form, sign=False).status == 401
    assert session.sender.send(sent.request_body, form, bad_signature=True).status == 401
    assert session.sender.send(sent.request_body, form, timestamp=1_500_000_000).status == 401


def clean_env() -> dict[str, str]:
    """The environment without Slack or database settings (the console needs none)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}


def test_the_walkthrough_plays_when_standard_input_is_empty(tmp_path: Path) -> None:
    """`orders-bot console --demo` with nothing typed: the built-in walkthrough, end to end."""
    done = subprocess.run(
        [EXE, "console", "--demo"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        env=clean_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for line in (
        "You are Ana Lim (@ana), Acme Coffee (merchant), in #acme-orders.",
        "SO-000013 is placed",
        "Only merchants can order services",
        "it was confirmed by @ben",
        "⚠ A reason is required",
        "✅ Completed",
        "waiting on Acme Coffee",
        "Home · orders-bot",
    ):
        assert line in out, line
    assert re.search(r"✓ all \d+ steps succeeded\.", out)
    assert "\x1b" not in out and not list(tmp_path.iterdir())


def test_a_script_file_from_the_command_line(tmp_path: Path) -> None:
    """`--script FILE` through the real entry point: the transcript, and status 1 on a failed step."""
    script = tmp_path / "steps.txt"
    script.write_text("as raj\n/orders list new\nexpect SO-000012\nexpect SO-000005\n")
    done = subprocess.run(
        [EXE, "console", "--demo", "--script", str(script)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "raj@#nimbus-apps> /orders list new" in done.stdout
    assert "✓ shown: SO-000012" in done.stdout
    assert "✗ expected 'SO-000005' in what the last command showed." in done.stdout


def test_the_console_refuses_a_shared_database(tmp_path: Path) -> None:
    """Pointed at PostgreSQL (a real bot's database), it stops with one line and touches nothing."""
    exe = str(Path(sys.executable).with_name("orders-bot"))
    env = {**clean_env(), "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"}
    done = subprocess.run(
        [exe, "console"],
        env=env,
        cwd=tmp_path,
        input="help\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert (
        "the console runs on a SQLite file, not on a shared database" in done.stdout + done.stderr
    )
