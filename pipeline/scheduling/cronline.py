"""A ready crontab line (and systemd units) that run `newsletter send-due` for this folder.

Every path is absolute, because cron starts jobs in the home folder with a bare PATH.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Settings
from pipeline.errors import ScheduleError


@dataclass(frozen=True)
class CronPlan:
    executable: str  # absolute path of the `newsletter` script (or a python -m command)
    every: int = 5  # minutes
    log_file: Path | None = None
    log_format: str = "text"
    flock: str | None = None  # absolute path of flock(1), or None for no lock


def _q(value: str | Path) -> str:
    return shlex.quote(str(value))


def default_log_file(settings: Settings) -> Path:
    return (settings.var_dir / "log" / "send-due.log").resolve()


def send_due_command(settings: Settings, plan: CronPlan, *, quiet: bool = True) -> str:
    """The command line (absolute paths) that one run of the job executes."""
    parts = [plan.executable]
    if settings.config_path is not None:
        parts += ["--config", _q(Path(settings.config_path).resolve())]
    parts.append("send-due")
    if quiet:
        parts.append("--quiet")
    if plan.log_file is not None:
        parts += ["--log-file", _q(plan.log_file)]
        if plan.log_format != "text":
            parts += ["--log-format", plan.log_format]
    command = " ".join(parts)
    if settings.config_path is None:
        command = f"cd {_q(settings.root.resolve())} && {command}"
    if plan.flock:
        lock = (settings.var_dir / "send-due.lock").resolve()
        command = f"{_q(plan.flock)} -n {_q(lock)} {command}"
    return command


def cron_line(settings: Settings, plan: CronPlan) -> str:
    """``*/5 * * * * /usr/bin/flock -n .../send-due.lock .../newsletter --config ... send-due
    --quiet --log-file ...``"""
    if not 1 <= plan.every <= 59:
        raise ScheduleError(
            f"--every {plan.every}: cron repeats within an hour",
            fix="give a number of minutes from 1 to 59",
        )
    minutes = "*" if plan.every == 1 else f"*/{plan.every}"
    # cron reads an unescaped % as the end of the command
    return f"{minutes} * * * * {send_due_command(settings, plan)}".replace("%", "\\%")


def systemd_units(settings: Settings, plan: CronPlan) -> dict[str, str]:
    """``newsletter-send-due.service`` and ``.timer`` with the same command (no lock needed:
    systemd never starts a unit that is still running)."""
    unlocked = CronPlan(plan.executable, plan.every, plan.log_file, plan.log_format, None)
    command = send_due_command(settings, unlocked)
    workdir = settings.root.resolve()
    service = (
        "[Unit]\n"
        f"Description=Send due newsletter editions ({settings.newsletter.name})\n"
        "After=network-online.target\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"WorkingDirectory={str(workdir).replace('%', '%%')}\n"
        "# EnvironmentFile=/etc/newsletter.env   (NEWSLETTER_SECRET_KEY=..., API keys)\n"
        f"ExecStart={command.removeprefix(f'cd {_q(workdir)} && ').replace('%', '%%')}\n"
    )
    timer = (
        "[Unit]\n"
        f"Description=Run newsletter send-due every {plan.every} minute(s)\n\n"
        "[Timer]\n"
        f"OnCalendar=*:0/{plan.every}\n"
        "Persistent=true\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {"newsletter-send-due.service": service, "newsletter-send-due.timer": timer}
