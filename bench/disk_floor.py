"""The disk's floor for durable rows: appends 4 KiB records to a file in the
given directory (the database's filesystem), each followed by fsync, as a
commit to SQLite's log does, for the given seconds. Prints one TSV row:
syncs per second, p50 ms, p99 ms, longest ms, the share of the time spent in
syncs over 2 ms, and the p99 of the wait of a write arriving at a random
moment: for the rest of the sync under way, then for one of its own, as a
durable request waits. That is what an open-loop client would see; wrk's
connections send nothing while they wait, so they see fewer of the long
syncs."""
import bisect
import itertools
import os
import random
import sys
import time

directory, seconds = sys.argv[1], float(sys.argv[2])
path = os.path.join(directory, "disk-floor.tmp")
record = os.urandom(4096 + 24)
# Like SQLite's log, the file is written over from its start once it is
# this long, so that it stops growing.
records_per_file = 4000
durations = []
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
try:
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        offset = 32 + (len(durations) % records_per_file) * len(record)
        before = time.perf_counter()
        os.pwrite(fd, record, offset)
        os.fsync(fd)
        durations.append(time.perf_counter() - before)
    elapsed = time.perf_counter() - started
finally:
    os.close(fd)
    os.unlink(path)

slow = sum(d for d in durations if d > 0.002)
# A write arriving at a random moment lands in a sync with a chance that
# grows with the sync's length (the loop is in a sync nearly all the time:
# the write before it takes microseconds); it waits for the rest of it, then
# a sync of its own.
ends = list(itertools.accumulate(durations))
rng = random.Random(1)
waits = []
for _ in range(100_000):
    landed = durations[min(bisect.bisect(ends, rng.random() * ends[-1]), len(durations) - 1)]
    waits.append(rng.random() * landed + rng.choice(durations))
waits.sort()
durations.sort()
n = len(durations)
print(
    f"{n / elapsed:.0f}\t{durations[n // 2] * 1000:.3f}\t{durations[int(n * 0.99)] * 1000:.3f}"
    f"\t{durations[-1] * 1000:.2f}\t{slow / elapsed:.3f}\t{waits[int(len(waits) * 0.99)] * 1000:.2f}"
)
