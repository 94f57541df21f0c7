"""Probes kubesftp with paramiko, a third-party SFTP client, and prints what the server answered.

Usage: python paramiko_probe.py GROUP  (login as JSON on stdin: host, port, username, password)

Prints one JSON object: {"paramiko": version, "results": {step: outcome}}. An outcome is "OK",
the refusal paramiko reported ("PERMISSION_DENIED", "NO_SUCH_FILE", "FAILURE: <text>"), or a
value read back (a mode in octal, a link target). The node test compares it with what it expects
and checks the files on disk itself; this script only reports.
"""

import errno
import io
import json
import sys

import paramiko
from paramiko.sftp import (
    CMD_CLOSE,
    CMD_FSETSTAT,
    CMD_HANDLE,
    CMD_OPEN,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_TRUNC,
)
from paramiko.sftp_attr import SFTPAttributes


def outcome(step):
    """Runs step(); a string it returns, else "OK", or the refusal as paramiko reports it."""
    try:
        value = step()
    except PermissionError:
        return "PERMISSION_DENIED"
    except FileNotFoundError:
        return "NO_SUCH_FILE"
    except IOError as err:
        if err.errno == errno.EACCES:
            return "PERMISSION_DENIED"
        if err.errno == errno.ENOENT:
            return "NO_SUCH_FILE"
        return "FAILURE: %s" % (err,)
    return value if isinstance(value, str) else "OK"


def attrs(**fields):
    result = SFTPAttributes()
    for name, value in fields.items():
        setattr(result, name, value)
    return result


def raw_open(sftp, path, pflags):
    """OPEN with exactly `pflags` (paramiko's open() always sends READ or WRITE); returns a handle."""
    kind, msg = sftp._request(CMD_OPEN, path, pflags, SFTPAttributes())
    if kind != CMD_HANDLE:
        raise IOError("expected a handle")
    return msg.get_binary()


def raw_close(sftp, handle):
    sftp._request(CMD_CLOSE, handle)


def open_and_close(sftp, path, pflags):
    raw_close(sftp, raw_open(sftp, path, pflags))


def probe_handles(sftp):
    results = {}
    handle = []
    results["open /ro/a.txt pflags 0"] = outcome(lambda: handle.append(raw_open(sftp, "/ro/a.txt", 0)))
    if handle:
        results["fsetstat 0666 on that handle"] = outcome(
            lambda: sftp._request(CMD_FSETSTAT, handle[0], attrs(st_mode=0o666))
        )
        raw_close(sftp, handle[0])
    with sftp.open("/dl/file.txt", "r") as handle_file:
        results["chmod 0666 on a /dl read handle"] = outcome(lambda: handle_file.chmod(0o666))
        results["truncate 0 on a /dl read handle"] = outcome(lambda: handle_file.truncate(0))
    return results


def probe_open_flags(sftp):
    return {
        "open /ro/new.txt CREAT": outcome(lambda: open_and_close(sftp, "/ro/new.txt", SFTP_FLAG_CREATE)),
        "open /ro/new.txt CREAT|TRUNC": outcome(
            lambda: open_and_close(sftp, "/ro/new.txt", SFTP_FLAG_CREATE | SFTP_FLAG_TRUNC)
        ),
        "open /ro/a.txt TRUNC": outcome(lambda: open_and_close(sftp, "/ro/a.txt", SFTP_FLAG_TRUNC)),
    }


def write_through(sftp, path):
    with sftp.open(path, "w") as target:
        target.write(b"written through a link")


def read_all(sftp, path):
    with sftp.open(path, "r") as source:
        source.read()


def probe_symlinks(sftp):
    results = {
        "symlink /ro -> /rw/link": outcome(lambda: sftp.symlink("/ro", "/rw/link")),
        "symlink /ro/a.txt -> /rw/abs": outcome(lambda: sftp.symlink("/ro/a.txt", "/rw/abs")),
    }
    results["readlink /rw/abs"] = outcome(lambda: sftp.readlink("/rw/abs"))
    results["open w /rw/link/new.txt"] = outcome(lambda: write_through(sftp, "/rw/link/new.txt"))
    results["open w /rw/abs"] = outcome(lambda: write_through(sftp, "/rw/abs"))
    results["putfo /rw/link/put.txt"] = outcome(
        lambda: sftp.putfo(io.BytesIO(b"put through a link"), "/rw/link/put.txt") and None
    )
    results["chmod 0666 /rw/link/a.txt"] = outcome(lambda: sftp.chmod("/rw/link/a.txt", 0o666))
    results["read /rw/abs"] = outcome(lambda: read_all(sftp, "/rw/abs"))
    results["remove /rw/link/a.txt"] = outcome(lambda: sftp.remove("/rw/link/a.txt"))
    return results


def mode_of(sftp, path):
    return "0%o" % (sftp.stat(path).st_mode & 0o7777)


def probe_modes(sftp):
    sftp.open("/rw/m.txt", "w").close()
    results = {"chmod 04755 /rw/m.txt": outcome(lambda: sftp.chmod("/rw/m.txt", 0o4755))}
    results["mode of /rw/m.txt"] = mode_of(sftp, "/rw/m.txt")
    sftp.open("/rw/new.txt", "w").close()
    results["mode of a new file"] = mode_of(sftp, "/rw/new.txt")
    results["mkdir 01777 /rw/dir"] = outcome(lambda: sftp.mkdir("/rw/dir", 0o1777))
    results["mode of /rw/dir"] = mode_of(sftp, "/rw/dir")
    results["chmod 02755 /rw/dir"] = outcome(lambda: sftp.chmod("/rw/dir", 0o2755))
    results["mode of /rw/dir after chmod"] = mode_of(sftp, "/rw/dir")
    results["chown 1234:1234 /rw/m.txt"] = outcome(lambda: sftp.chown("/rw/m.txt", 1234, 1234))
    return results


GROUPS = {
    "handles": probe_handles,
    "open-flags": probe_open_flags,
    "symlinks": probe_symlinks,
    "modes": probe_modes,
}


def main():
    group = GROUPS[sys.argv[1]]
    login = json.load(sys.stdin)
    transport = paramiko.Transport((login["host"], login["port"]))
    try:
        # No host key to check against: a loopback server with a key made for this test run.
        transport.connect(username=login["username"], password=login["password"])
        sftp = paramiko.SFTPClient.from_transport(transport)
        results = group(sftp)
        sftp.close()
    finally:
        transport.close()
    json.dump({"paramiko": paramiko.__version__, "results": results}, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
