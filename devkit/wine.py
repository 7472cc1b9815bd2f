"""Windows CPython under Wine: one Wine prefix, and processes run in it the way Stash waits for them.

The Windows test lane (tests/windows/) and the fake Stash's plugin host run PlexSync with the
Windows CPython that tools/windows_python.py prepares. Everything here that differs from Windows
is a Wine quirk measured in ../shared/WINDOWS.md, and only those:
- Wine's own services start with the first process of a prefix and inherit its standard
  streams: `boot()` starts them first (`wineserver -p`, `wineboot`) with every stream on
  /dev/null, and `shutdown()` ends them (`wineserver -k`).
- a detached child (the drainer) still holds the Unix ends of its parent's pipes, so a pipe's
  end-of-file comes only when the drainer exits: `run()` waits for the process to exit, then
  takes what its pipes hold (a reader per pipe), where Stash (and Windows) would see EOF.
- CPython under Wine cannot start with a regular file as a standard stream: always pipes.
- pids inside Wine are Windows pids: a process is ended from the Windows side
  (`terminate()`: TerminateProcess, what Windows has instead of SIGKILL).
"""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

WINE_LOADERS = ("/usr/lib/wine/wine64", "wine64")  # Debian's wine64 package puts no wine64 on PATH
BOOT_TIMEOUT = 300.0  # deadlines for a hung Wine, not timing assertions
RUN_TIMEOUT = 300.0


def find_wine() -> Optional[str]:
    """The wine64 loader, or None when Wine is not installed."""
    for candidate in WINE_LOADERS:
        found = candidate if os.path.isabs(candidate) and os.access(candidate, os.X_OK) else shutil.which(candidate)
        if found and (shutil.which("wineserver") or os.access("/usr/lib/wine/wineserver", os.X_OK)):
            return found
    return None


def windows_path(path: "os.PathLike[str] | str") -> str:
    """A Linux path as Windows programs under Wine see it (drive Z: is the Linux root)."""
    return "Z:" + os.path.abspath(os.fspath(path)).replace("/", "\\")


@dataclass
class Finished:
    returncode: int
    stdout: bytes
    stderr: bytes


class _PipeReader(threading.Thread):
    """Reads one pipe until told to stop after the process exited (EOF may never come under Wine)."""

    def __init__(self, stream) -> None:
        super().__init__(daemon=True)
        self.fd = stream.fileno()
        self.stream = stream
        self.chunks: List[bytes] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                data = os.read(self.fd, 65536)
                if not data:
                    return
                self.chunks.append(data)
            elif self.stop.is_set():  # the writer has exited and the pipe holds nothing more
                return

    def finish(self) -> bytes:
        self.stop.set()
        self.join(30)
        self.stream.close()
        return b"".join(self.chunks)


class Wine:
    """One Wine prefix with its services running; runs Windows programs in it."""

    def __init__(self, prefix: Path, loader: Optional[str] = None) -> None:
        self.loader = loader or find_wine()
        if self.loader is None:
            raise RuntimeError("Wine is not installed (apt-get install wine64)")
        self.prefix = Path(prefix)
        self.wineserver = shutil.which("wineserver") or "/usr/lib/wine/wineserver"

    def env(self, base: Optional[Dict[str, str]] = None, **extra: str) -> Dict[str, str]:
        env = dict(os.environ if base is None else base)
        env.update(WINEPREFIX=str(self.prefix), WINEDEBUG="-all")
        env.update(extra)
        return env

    def boot(self) -> None:
        """Start the prefix's services with no stream of ours (see the module docstring)."""
        self.prefix.mkdir(parents=True, exist_ok=True)
        quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run([self.wineserver, "-p"], env=self.env(), timeout=BOOT_TIMEOUT, check=True, **quiet)
        subprocess.run([str(self.loader), "wineboot"], env=self.env(), timeout=BOOT_TIMEOUT, check=True, **quiet)

    def shutdown(self) -> None:
        subprocess.run([self.wineserver, "-k"], env=self.env(), timeout=60, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def popen(self, argv: Sequence[str], cwd: Path, env: Dict[str, str]) -> subprocess.Popen:
        """Start a Windows program (argv[0]: its .exe as a Linux path) with three pipes."""
        return subprocess.Popen([str(self.loader), *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=str(cwd), env=self.env(env))

    def run(self, argv: Sequence[str], stdin: bytes, cwd: Path, env: Dict[str, str],
            timeout: float = RUN_TIMEOUT) -> Finished:
        """Run to exit and return what it wrote: stdin written and closed, stdout/stderr read until exit."""
        process = self.popen(argv, cwd, env)
        return self.communicate(process, stdin, timeout)

    def communicate(self, process: subprocess.Popen, stdin: bytes, timeout: float = RUN_TIMEOUT) -> Finished:
        readers = [_PipeReader(process.stdout), _PipeReader(process.stderr)]
        for reader in readers:
            reader.start()
        if process.stdin is not None and not process.stdin.closed:
            try:
                process.stdin.write(stdin)
                process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
            raise
        out, err = (reader.finish() for reader in readers)
        return Finished(process.returncode, out, err)

    def processes(self, marker: str) -> List[int]:
        """Linux pids of this prefix's processes whose command line contains `marker`."""
        wanted = f"WINEPREFIX={self.prefix}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if marker.encode() not in (entry / "cmdline").read_bytes().replace(b"\0", b" "):
                    continue
                if wanted not in (entry / "environ").read_bytes().split(b"\0"):
                    continue
                state = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
            except OSError:
                continue
            if state != b"Z":
                pids.append(int(entry.name))
        return pids

    def wait_gone(self, marker: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.processes(marker):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:g} s waiting for Wine processes {marker!r} to exit")
            time.sleep(0.1)
