"""Bundle export and import next to ``tar`` of the same files on the same disk, in one run.

    .venv/bin/python benchmarks/transfer_streaming.py [--full] [--operations N] [--megabytes M]
        [--folder DIR] [--part-size BYTES]

The default (20,000 operations, 1 GB of files: a fifth of the target's size, in the same
proportions) runs in well under a minute; ``--full`` is the target's size: 100,000
operations and 5 GB of files. The queue holds api_calls and file uploads, the files spread
over the uploads. The baseline is ``tar -cf`` of the folder that holds the files (and
``tar -xf`` of that archive for the import), run in the same process on the same disk,
each after the files were read once and every pending write was flushed, so that all
start alike.

Export writes, hashes and syncs each part: its operations are marked exported only once
the bundle is on the disk, so the baseline it is held to is ``tar -cf`` followed by an
fsync of the archive. ``tar -cf`` alone, which leaves the archive in the page cache, is
printed beside it: below the machine's dirty-page limits it is a measure of memory, not
of the disk (at the full size, where both wait for the disk, export took 1.07x it).
Import checks every part's hash first, then stages the files and adds the operations in
one transaction; its ratio is printed for reference.

Each export figure is the best of ``--rounds`` rounds (3 by default, 1 with ``--full``),
tar's too. Targets: export within 1.2x of tar then fsync; memory flat in the size (the
process's peak resident memory grows by less than 256 MB however large the bundle).
Exits 1 on a miss.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peft_studio_offline import OfflineQueueManager
from peft_studio_offline.core.transfer import ExportOptions, export_bundle, import_bundle

EXPORT_TARGET = 1.2
MEMORY_TARGET = 256 * 1024 * 1024
CHUNK = 4 * 1024 * 1024


def peak_rss() -> int:
    """The process's peak resident memory so far, in bytes (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def make_files(folder: Path, count: int, total: int) -> list[Path]:
    folder.mkdir(parents=True)
    size = max(1, total // count)
    block = os.urandom(CHUNK)
    files = []
    for index in range(count):
        path = folder / f"shard-{index:05d}.bin"
        with path.open("wb") as out:
            left = size
            while left > 0:
                out.write(block[: min(left, CHUNK)])
                left -= CHUNK
        files.append(path)
    return files


async def fill_queue(queue: OfflineQueueManager, operations: int, files: list[Path]) -> None:
    every = max(1, operations // len(files))
    items = []
    uploads = iter(files)
    for n in range(operations):
        upload = next(uploads, None) if n % every == 0 else None
        if upload is not None:
            items.append(
                {
                    "operation_type": "file_upload",
                    "payload": {"path": str(upload), "url": "http://127.0.0.1:9/up"},
                }
            )
        else:
            items.append(
                {
                    "operation_type": "api_call",
                    "payload": {
                        "url": "http://127.0.0.1:9/api",
                        "method": "POST",
                        "data": {"n": n},
                    },
                }
            )
        if len(items) == 5000:
            await queue.enqueue_many(items)
            items = []
    if items:
        await queue.enqueue_many(items)


def read_once(files: list[Path]) -> None:
    """Start every timed run alike: the files in the page cache, nothing left to write out
    (a run that began while the last one's archive was still being written lost up to a
    third of its time to it)."""
    for path in files:
        with path.open("rb", buffering=0) as handle:
            while handle.read(CHUNK):
                pass
    os.sync()


def timed_tar(*args: str, durable: Path | None = None) -> float:
    """Seconds ``tar`` takes; with ``durable``, until that file (the archive) is on disk."""
    start = time.perf_counter()
    subprocess.run(["tar", *args], check=True)
    if durable is not None:
        fd = os.open(durable, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return time.perf_counter() - start


async def run(args: argparse.Namespace) -> int:
    operations = 100_000 if args.full else args.operations
    total = (5 * 1000**3) if args.full else args.megabytes * 1000**2
    shards = max(1, min(operations, total // (50 * 1000**2) or 1, 200))
    rounds = args.rounds or (1 if args.full else 3)
    with tempfile.TemporaryDirectory(dir=args.folder, prefix="bench-transfer-") as raw:
        root = Path(raw)
        print(f"{operations} operations, {total / 1e9:.2f} GB in {shards} files, in {root}")
        files = make_files(root / "files", shards, total)
        async with OfflineQueueManager(root / "offline.db") as queue:
            await fill_queue(queue, operations, files)
            archive = root / "baseline.tar"
            plain_tar = tar_out = ours_out = float("inf")
            export_growth = 0
            # The best of a few rounds of each: the machine is shared, and a round that
            # another process slowed down says nothing about either.
            for round_number in range(rounds):
                read_once(files)
                plain_tar = min(plain_tar, timed_tar("-cf", str(archive), "-C", str(root), "files"))
                archive.unlink()
                read_once(files)
                durable = timed_tar("-cf", str(archive), "-C", str(root), "files", durable=archive)
                tar_out = min(tar_out, durable)
                archive.unlink()
                read_once(files)
                before = peak_rss()
                start = time.perf_counter()
                result = await export_bundle(
                    queue, root / f"bundle-{round_number}",
                    ExportOptions(everything=True, part_size=args.part_size),
                )  # fmt: skip
                ours_out = min(ours_out, time.perf_counter() - start)
                export_growth = max(export_growth, peak_rss() - before)
                assert result.operations == operations
                if round_number < rounds - 1:
                    shutil.rmtree(root / f"bundle-{round_number}")
        bundle = root / f"bundle-{rounds - 1}"
        read_once(files)
        timed_tar("-cf", str(root / "baseline.tar"), "-C", str(root), "files")
        (root / "unpacked").mkdir()
        os.sync()
        tar_in = timed_tar("-xf", str(root / "baseline.tar"), "-C", str(root / "unpacked"))
        shutil.rmtree(root / "unpacked")
        (root / "baseline.tar").unlink()
        os.sync()
        async with OfflineQueueManager(root / "connected.db") as queue:
            before = peak_rss()
            start = time.perf_counter()
            imported = await import_bundle(queue, bundle, staging_root=root / "staged")
            ours_in = time.perf_counter() - start
            import_growth = peak_rss() - before
        assert imported.added == operations

    export_ratio = ours_out / tar_out
    misses = []
    print(f"export: {ours_out:.2f} s, tar -cf then fsync {tar_out:.2f} s: {export_ratio:.2f}x"
          f" (target <= {EXPORT_TARGET}x); tar -cf alone {plain_tar:.2f} s:"
          f" {ours_out / plain_tar:.2f}x")  # fmt: skip
    print(f"import: {ours_in:.2f} s, tar -xf {tar_in:.2f} s: {ours_in / tar_in:.2f}x tar"
          " (checks every part's hash first; for reference)")  # fmt: skip
    print(f"peak memory growth: export {export_growth / 1e6:.0f} MB, import"
          f" {import_growth / 1e6:.0f} MB (target < {MEMORY_TARGET / 1e6:.0f} MB)")  # fmt: skip
    if export_ratio > EXPORT_TARGET:
        misses.append("export time")
    if max(export_growth, import_growth) >= MEMORY_TARGET:
        misses.append("memory")
    if misses:
        print("MISSED: " + ", ".join(misses))
        return 1
    print("all targets met")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="100,000 operations and 5 GB")
    parser.add_argument("--operations", type=int, default=20_000)
    parser.add_argument("--megabytes", type=int, default=1000)
    parser.add_argument("--folder", default=None, help="where to work (default: the temp dir)")
    parser.add_argument("--part-size", type=int, default=None)
    parser.add_argument(
        "--rounds", type=int, default=None, help="best of N (default 3, or 1 with --full)"
    )
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
