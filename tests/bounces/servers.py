"""A real postfix instance and a real dovecot IMAP server on loopback, in a temp folder.

postfix (Debian's) accepts mail on 127.0.0.1:<port> and:
- delivers ``*@readers.example.com`` people listed in ``mailboxes`` to Maildirs (virtual(8));
- accepts any ``*@gone.example.com`` address and lets local(8) fail it ("unknown user"): a
  genuine hard bounce, a DSN that postfix's bounce(8) daemon writes;
- relays ``*@slow.example.com`` to a closed port, so the message waits in the queue and postfix
  sends a delay warning (a DSN with ``Action: delayed``): a genuine soft bounce;
- delivers ``bounces+anything@glownotes.example.com`` (recipient_delimiter ``+``) to the bounce
  mailbox ``mail/bounces``, which dovecot serves over IMAP as user ``bounces``.

Both run as root-started daemons with their own config, queue and sockets, so they never
touch the system's instances. Mail folders belong to ``nobody``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port

POSTFIX_SERVICES = """\
{smtp_address} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

NOBODY = pwd.getpwnam("nobody")


def _wait_port(port: int, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if proc is not None and proc.poll() is not None:
                break
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start on port {port}")


@dataclass
class Postfix:
    root: Path
    port: int
    mail: Path  # virtual mailboxes: mail/<name>/ (Maildir)

    def maildir(self, name: str) -> Path:
        return self.mail / name

    def messages(self, name: str) -> list[Path]:
        box = self.maildir(name)
        return sorted([*box.glob("new/*"), *box.glob("cur/*")])

    def flush(self) -> None:
        subprocess.run(["postqueue", "-c", str(self.root / "etc"), "-f"], check=False)

    def stop(self) -> None:
        subprocess.run(
            ["postfix", "-c", str(self.root / "etc"), "stop"], check=False, capture_output=True
        )


def start_postfix(root: Path, mailboxes: list[str]) -> Postfix:
    etc, queue, data, mail = root / "etc", root / "queue", root / "data", root / "mail"
    for d in (etc, queue, data, mail):
        d.mkdir(parents=True, exist_ok=True)
    port = free_port()
    closed = free_port()
    boxes = ["bounces@glownotes.example.com=bounces/"] + [
        f"{m}=readers/{m.split('@')[0]}/" for m in mailboxes
    ]
    (etc / "main.cf").write_text(
        f"""\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.glownotes.example.com
mydomain = glownotes.example.com
myorigin = glownotes.example.com
mydestination = gone.example.com
local_recipient_maps =
alias_maps =
alias_database =
recipient_delimiter = +
virtual_mailbox_domains = glownotes.example.com, readers.example.com
virtual_mailbox_base = {mail}
virtual_mailbox_maps = inline:{{ {", ".join("{ " + b + " }" for b in boxes)} }}
virtual_uid_maps = static:{NOBODY.pw_uid}
virtual_gid_maps = static:{NOBODY.pw_gid}
transport_maps = inline:{{ slow.example.com=smtp:[127.0.0.1]:{closed} }}
relay_domains = slow.example.com
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
maillog_file_prefixes = {root}
maillog_file = {root}/maillog
smtputf8_enable = no
delay_warning_time = 1s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connect_timeout = 1s
biff = no
notify_classes =
"""
    )
    (etc / "master.cf").write_text(POSTFIX_SERVICES.format(smtp_address=f"127.0.0.1:{port}"))
    shutil.chown(mail, NOBODY.pw_uid, NOBODY.pw_gid)
    shutil.chown(data, "postfix")
    env = {**os.environ, "MAIL_CONFIG": str(etc)}
    subprocess.run(["postfix", "-c", str(etc), "check"], check=True, env=env, capture_output=True)
    subprocess.run(["postfix", "-c", str(etc), "start"], check=True, env=env, capture_output=True)
    _wait_port(port, "postfix")
    return Postfix(root, port, mail)


@dataclass
class Dovecot:
    root: Path
    port: int
    user: str
    password: str
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_dovecot(
    root: Path, maildir: Path, *, user: str = "bounces", password: str = "s3cret-imap"
) -> Dovecot:
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (root / "passwd").write_text(f"{user}:{{PLAIN}}{password}::::::\n")
    home = root / "home"
    home.mkdir(exist_ok=True)
    shutil.chown(home, NOBODY.pw_uid, NOBODY.pw_gid)
    maildir.mkdir(parents=True, exist_ok=True)
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(exist_ok=True)
    for path in (maildir, *maildir.iterdir()):
        shutil.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    conf = root / "dovecot.conf"
    conf.write_text(
        f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {NOBODY.pw_uid}
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = static
  args = uid={NOBODY.pw_uid} gid={NOBODY.pw_gid} home={home} mail=maildir:{maildir}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
    )
    proc = subprocess.Popen(["dovecot", "-F", "-c", str(conf)])
    _wait_port(port, "dovecot", proc)
    return Dovecot(root, port, user, password, proc)
