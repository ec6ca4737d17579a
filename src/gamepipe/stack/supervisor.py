"""The stack's process supervisor: one supervisord (PyPI `supervisor`) per `var/`.

In: the services' launch specs. Out: processes that supervisord starts, restarts when
they die (`autorestart`; one that dies within its `startsecs` is retried after 1, 2,
3, ... s, up to `START_RETRIES` times, then FATAL), stops as a whole process group, and
whose output it writes to `var/logs/<name>.log`, rotated at `LOG_MAX_BYTES`. Each exit
and start is recorded by an event listener (stack/restarts.py) in
`var/logs/restarts.jsonl`. Why supervisord and not our own loop: docs/decisions.md.

supervisord listens on a Unix socket under `var/supervisor/` only (mode 700 directory),
runs in the foreground as a child of whoever ran `up` (its own session), and its pid
file holds the pid and the process's start time, so `down` never signals a process that
merely reuses the pid. Every process it starts carries `GAMEPIPE_STACK=<var>` in its
environment: after a crash of supervisord itself, `up` finds the orphans by it and
stops them before starting anew. Reads settings: var.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from gamepipe.config import Settings
from gamepipe.errors import StackError

log = logging.getLogger(__name__)

STACK_MARKER = "GAMEPIPE_STACK"
START_RETRIES = 100  # linear backoff: the 100th try comes ~80 min after the first
LOG_MAX_BYTES = 50 * 1024 * 1024
LOG_BACKUPS = 3
UNIX_PATH_MAX = 100  # a Unix socket's path is at most 107 bytes on Linux

# supervisord's process states (supervisor.states.ProcessStates)
RUNNING_STATES = frozenset({"STARTING", "RUNNING"})

# The supervisord processes this Python process started, so they are reaped (no zombie)
# when a long-lived caller, such as the test session, shuts them down.
_DAEMONS: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Program:
    """What supervisord needs to run one service."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    settings: dict[str, Any]  # the stack's settings, for the service's `prepare` at each start
    startsecs: int  # running this long counts as started
    stop_signal: str  # TERM, INT, ...
    stop_wait_s: int  # then SIGKILL to the group


@dataclass(frozen=True)
class ProgramState:
    name: str
    state: str  # RUNNING, STARTING, BACKOFF, STOPPED, EXITED, FATAL, ...
    pid: int | None
    started: float | None  # epoch seconds of the current (or last) start
    description: str


class Supervisor:
    """The supervisord of one `var/` directory: started on first use, asked over its socket."""

    def __init__(self, settings: Settings) -> None:
        self.var = settings.var
        self.home = self.var / "supervisor"
        self.socket = self.home / "supervisor.sock"
        if len(str(self.socket)) > UNIX_PATH_MAX:  # a deep var/ (a test's tmp_path): a short place of its own
            digest = hashlib.sha256(str(self.var).encode()).hexdigest()[:16]
            self.socket = Path(tempfile.gettempdir()) / f"gamepipe-{digest}" / "supervisor.sock"
        self.conf = self.home / "supervisord.conf"
        self.pid_file = self.var / "run" / "supervisord.pid"
        self.log_dir = self.var / "logs"

    # -- the daemon -----------------------------------------------------------------
    def pid(self) -> int | None:
        """The pid of supervisord for this `var/`: the one its pid file names if that process
        still runs and started when the file says, else one found running our configuration."""
        for started, proc in list(_DAEMONS.items()):
            if proc.poll() is not None:  # reaped: no zombie left behind
                del _DAEMONS[started]
        pid = live_pid(self.pid_file)
        if pid is not None:
            return pid
        found = self._daemons()
        return found[0].pid if found else None

    def _daemons(self) -> list[psutil.Process]:
        """supervisord processes running this `var/`'s configuration."""
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            argv = proc.info["cmdline"] or []
            if "supervisor.supervisord" not in argv or str(self.conf) not in argv:
                continue
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found

    def running(self) -> bool:
        """supervisord runs for this `var/` and answers on its socket."""
        return self.pid() is not None and self._answers(timeout_s=0)

    def _answers(self, timeout_s: float) -> bool:
        """True once supervisord answers; a process that runs may still be starting up."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._rpc().supervisor.getState()
                return True
            except (OSError, xmlrpc.client.Fault):
                if time.monotonic() >= deadline:
                    return False
            time.sleep(0.2)

    def ensure(self) -> None:
        """Start supervisord unless it runs; first stop what a crashed one left running.
        Nothing is stopped while a supervisord of this `var/` runs and answers."""
        pid = self.pid()
        if pid is not None:
            if self._answers(timeout_s=10):
                return
            log.warning("supervisord (pid %d) runs but has not answered on %s for 10 s: stopping it", pid, self.socket)
            for hung in self._daemons():
                _end_group(hung.pid)
        orphans = stack_orphans(self.var)
        for proc in orphans:
            _end_group(proc.pid)
        if orphans:
            log.warning("stopped %d process(es) left by an earlier stack in %s", len(orphans), self.var)
        for directory in {self.home, self.socket.parent}:
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o700)
        (self.home / "programs").mkdir(exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        self.conf.write_text(self._daemon_conf())
        # Its own log is `logfile`; what it prints before that is set up goes here.
        with open(self.log_dir / "supervisord.out", "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(self.conf)],
                cwd=self.var,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _DAEMONS[proc.pid] = proc
        write_pid(self.pid_file, proc.pid)
        deadline = time.monotonic() + 20
        while not self.running():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise StackError(f"supervisord did not start; see {self.log_dir / 'supervisord.out'}")
            time.sleep(0.1)

    def shutdown(self, timeout_s: float = 120) -> bool:
        """Stop every program, then supervisord; True if it was running."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            self._rpc().supervisor.shutdown()
        except (OSError, xmlrpc.client.Fault):
            _end_group(pid)
        try:
            psutil.Process(pid).wait(timeout_s)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            _end_group(pid)
        child = _DAEMONS.pop(pid, None)
        if child is not None:
            child.wait(timeout=10)
        self.pid_file.unlink(missing_ok=True)
        return True

    # -- programs -------------------------------------------------------------------
    def start(self, program: Program) -> int | None:
        """(Re)register `program` and start it unless it runs; its pid (None: not yet)."""
        self.ensure()
        rpc = self._rpc().supervisor
        state = self.state(program.name)
        if state is not None and state.state in RUNNING_STATES:
            return state.pid
        if state is not None and state.state == "BACKOFF":  # between two failed tries: start it afresh
            self.stop(program.name)
        spec = self.home / "programs" / f"{program.name}.json"
        spec.write_text(
            json.dumps(
                {
                    "name": program.name,
                    "argv": program.argv,
                    "cwd": program.cwd,
                    "env": {**program.env, STACK_MARKER: str(self.var)},
                    "settings": program.settings,
                }
            )
        )
        spec.chmod(0o600)  # the environment may hold a password
        conf = self.home / "programs" / f"{program.name}.conf"
        text = self._program_conf(program, spec)
        if not conf.exists() or conf.read_text() != text:
            conf.write_text(text)
            added, changed, _removed = rpc.reloadConfig()[0]
            if program.name in changed:
                rpc.removeProcessGroup(program.name)
            if program.name in added or program.name in changed:
                rpc.addProcessGroup(program.name)
        try:
            rpc.startProcess(program.name, False)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise StackError(f"supervisord could not start {program.name}: {fault.faultString}") from None
        state = self.state(program.name)
        return state.pid if state else None

    def stop(self, name: str) -> bool:
        """Stop the program (its whole process group); True if it was running."""
        if not self.running():
            return False
        state = self.state(name)
        if state is None or state.state not in (*RUNNING_STATES, "BACKOFF"):
            return False
        try:
            self._rpc().supervisor.stopProcess(name, True)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise StackError(f"supervisord could not stop {name}: {fault.faultString}") from None
        return True

    def state(self, name: str) -> ProgramState | None:
        """The program's state, or None if supervisord is down or does not know it."""
        if self.pid() is None:
            return None
        try:
            info: dict[str, Any] = self._rpc().supervisor.getProcessInfo(name)
        except (OSError, xmlrpc.client.Fault):
            return None
        return ProgramState(name, info["statename"], info["pid"] or None, info["start"] or None, info["description"])

    # -- configuration ----------------------------------------------------------------
    def _rpc(self) -> Any:
        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def _daemon_conf(self) -> str:
        listener = f"{sys.executable} -m gamepipe.stack.restarts {self.log_dir / 'restarts.jsonl'}"
        return f"""\
; Generated by gamepipe (stack/supervisor.py) at each start; edits are overwritten.
[unix_http_server]
file={self.socket}
chmod=0700

[supervisord]
logfile={self.log_dir / "supervisord.log"}
silent=true
logfile_maxbytes={LOG_MAX_BYTES}
logfile_backups={LOG_BACKUPS}
pidfile={self.home / "supervisord.pid"}
childlogdir={self.log_dir}
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{self.socket}

[eventlistener:restarts]
command={listener}
events=PROCESS_STATE
autorestart=true
stderr_logfile={self.log_dir / "restarts-listener.log"}

[include]
files = {self.home / "programs"}/*.conf
"""

    def _program_conf(self, program: Program, spec: Path) -> str:
        log = self.log_dir / f"{program.name}.log"
        return f"""\
[program:{program.name}]
command={sys.executable} -m gamepipe.stack.launch {spec}
directory={program.cwd}
autostart=false
autorestart=true
startsecs={program.startsecs}
startretries={START_RETRIES}
stopsignal={program.stop_signal}
stopwaitsecs={program.stop_wait_s}
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={log}
stdout_logfile_maxbytes={LOG_MAX_BYTES}
stdout_logfile_backups={LOG_BACKUPS}
"""


def write_pid(path: Path, pid: int) -> None:
    """A pid file: the pid and that process's start time."""
    path.write_text(f"{pid} {psutil.Process(pid).create_time()}\n")


def live_pid(path: Path) -> int | None:
    """The pid in `path` if that process still runs and started when the file says (a
    pid reused by another process is not it). Reading never changes the file."""
    try:
        pid_text, started = path.read_text().split()
        pid = int(pid_text)
        proc = psutil.Process(pid)
        if abs(proc.create_time() - float(started)) < 0.01 and proc.status() != psutil.STATUS_ZOMBIE:
            return pid
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    return None


def stack_orphans(var: Path) -> list[psutil.Process]:
    """Processes started for this `var/` (STACK_MARKER in their environment) that run on."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get(STACK_MARKER) == str(var) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _end_group(pid: int, timeout_s: float = 15.0) -> None:
    """SIGTERM the process group of `pid`, SIGKILL what is left after `timeout_s`."""
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return
    members = [p for p in psutil.process_iter(["pid"]) if _group_of(p.pid) == group]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        _gone, alive = psutil.wait_procs(members, timeout=timeout_s)
        if not alive:
            return
        members = alive


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None
