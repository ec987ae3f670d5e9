#!/usr/bin/env python3
"""Runs a command as part of the native demo nginx: `scripts/stack.sh exec CMD [ARG...]`, the
native counterpart of `docker exec <the nginx container> CMD`.

scripts/stack.sh starts this under a command line that names nginx's prefix folder, which is
how the stack's process-exporter (group "nginx", with its children) and system-recovery.yml's
runaway search (everything below a process naming the prefix) tell this nginx's processes from
any other on the machine. It makes itself a child subreaper, so whatever CMD leaves running in
the background (`sh -c "yes > /dev/null &"`: the shell exits at once) is re-parented here, not
to init, and stays inside nginx's process tree: counted in nginx's CPU and memory, and a
candidate for system-recovery.yml. It waits until every such process has ended, then exits with
CMD's status. It never signals anything itself; system-recovery.yml protects it by name.
"""
import ctypes
import os
import sys

# prctl(2) option: orphaned descendants are re-parented to this process instead of init.
PR_SET_CHILD_SUBREAPER = 36


def main():
    if len(sys.argv) < 2:
        print("usage: service-exec.py CMD [ARG...]", file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(f"service-exec: prctl: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 1
    child = os.fork()
    if child == 0:
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        except OSError as e:
            print(f"service-exec: {sys.argv[1]}: {e.strerror}", file=sys.stderr)
            os._exit(127)
    status = 0
    # Reap CMD and every orphan it left, until none is left.
    while True:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            return status
        if pid == child:
            status = os.waitstatus_to_exitcode(wait_status)
            status = status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main())
