"""Reads pieces of one remote file with paramiko, seeking to each offset in the order given.

Usage: python s3_random_reads.py  (JSON on stdin: host, port, username, password, path, and
pieces, a list of [offset, length])

Prints one JSON object: {"paramiko": version, "size": the size stat reports, "pieces": [{"offset",
"length", "got": bytes read, "sha256"}], "whole": sha256 of the file read start to end with
paramiko's prefetch (many reads in flight)}. The node test compares the hashes with its source.
"""

import hashlib
import json
import sys

import paramiko


class HashSink:
    """A file-like object for getfo that hashes instead of storing."""

    def __init__(self):
        self.hash = hashlib.sha256()

    def write(self, data):
        self.hash.update(data)
        return len(data)


def main():
    job = json.load(sys.stdin)
    transport = paramiko.Transport((job["host"], job["port"]))
    try:
        # No host key to check against: a loopback server with a key made for this test run.
        transport.connect(username=job["username"], password=job["password"])
        sftp = paramiko.SFTPClient.from_transport(transport)
        pieces = []
        with sftp.open(job["path"], "rb") as remote:
            size = remote.stat().st_size
            for offset, length in job["pieces"]:
                remote.seek(offset)
                data = remote.read(length)
                pieces.append(
                    {
                        "offset": offset,
                        "length": length,
                        "got": len(data),
                        "sha256": hashlib.sha256(data).hexdigest(),
                    }
                )
        sink = HashSink()
        sftp.getfo(job["path"], sink, prefetch=True)
        sftp.close()
    finally:
        transport.close()
    report = {
        "paramiko": paramiko.__version__,
        "size": size,
        "pieces": pieces,
        "whole": sink.hash.hexdigest(),
    }
    json.dump(report, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
