"""squatter.py TACTIC PATH...: run as an unprivileged user, try to take
each PATH before holdfastd does (MS01-003).  TACTIC is one of
  mkdir    create the directory (owned by us, mode 0777)
  symlink  create a symlink to a directory we name in $SQUAT_TARGET
  fill     create a regular file full of junk
  flock    create a file and hold an exclusive flock on it
  all      for each path, and each path's lock/pid/socket names inside it,
           try everything
Prints one JSON line {"taken": [...], "refused": {...}} and then, with
--hold, stays alive (holding its locks) until killed."""
import errno
import fcntl
import json
import os
import sys
import time

INSIDE = ["holdfastd.pid", "control", "echo", "echo2", "lock"]


def attempt(tactic, path, held):
    try:
        if tactic == "mkdir":
            os.mkdir(path, 0o777)
            os.chmod(path, 0o777)
        elif tactic == "symlink":
            os.symlink(os.environ.get("SQUAT_TARGET", "/etc"), path)
        elif tactic == "fill":
            with open(path, "wb") as f:
                f.write(b"\0junk\n" * 100000)
        elif tactic == "flock":
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(fd)
        return None
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def main():
    args = sys.argv[1:]
    hold = "--hold" in args
    args = [a for a in args if a != "--hold"]
    tactic, paths = args[0], args[1:]
    taken, refused, held = [], {}, []
    for p in paths:
        targets = [p] + [os.path.join(p, n) for n in INSIDE] if tactic == "all" else [p]
        for t in targets:
            for tac in (["mkdir", "flock", "symlink", "fill"] if tactic == "all" else [tactic]):
                err = attempt(tac, t, held)
                if err is None:
                    taken.append("%s:%s" % (tac, t))
                    break
                refused["%s:%s" % (tac, t)] = err
    print(json.dumps({"uid": os.getuid(), "taken": taken, "refused": refused}), flush=True)
    if hold:
        time.sleep(60)


main()
