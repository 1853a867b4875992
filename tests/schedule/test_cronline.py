"""The crontab line and systemd units: absolute paths, escaping, no config file."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import Settings, load_settings
from pipeline.scheduling.cronline import CronPlan, cron_line, systemd_units
from tests.conftest import TEST_SECRET

EXE = "/srv/glow/.venv/bin/newsletter"


def test_line_with_lock_log_and_config(file_settings: Settings) -> None:
    root = file_settings.root.resolve()
    plan = CronPlan(EXE, every=10, log_file=root / "var/log/x.log", flock="/usr/bin/flock")
    assert cron_line(file_settings, plan) == (
        f"*/10 * * * * /usr/bin/flock -n {root}/var/send-due.lock {EXE} --config "
        f"{root}/newsletter.toml send-due --quiet --log-file {root}/var/log/x.log"
    )


def test_without_a_config_file_the_job_changes_into_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "my news%letter"
    folder.mkdir()
    settings = load_settings(None, {"NEWSLETTER_SECRET_KEY": TEST_SECRET}, root=folder)
    line = cron_line(settings, CronPlan(EXE, every=1, log_format="json"))
    assert line == f"* * * * * cd '{tmp_path}/my news\\%letter' && {EXE} send-due --quiet"
    service = systemd_units(settings, CronPlan(EXE, log_file=folder / "a.log"))[
        "newsletter-send-due.service"
    ]
    assert f"WorkingDirectory={tmp_path}/my news%%letter\n" in service
    assert f"ExecStart={EXE} send-due --quiet --log-file '{tmp_path}/my news%%letter/a.log'\n" in (
        service
    )
