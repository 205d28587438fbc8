"""One turn of the front's event loop: wait for socket events, handle them.

waitress's `wasyncore.poll2` builds a new poll object every turn and asks
every open connection `readable()` and `writable()` to fill it: the work of a
turn grows with the connections open, busy or idle. NOTE: at 32 connections
(wrk, single rows) the loop turned ~8,600 times a second and those questions
were about a third of the front's GIL samples (py-spy --gil).

`Poller` keeps one poll object across turns and asks a connection again
only when its answer may have changed:
- it had an event this turn (handle_read / handle_write ran on this thread);
- it said so with `touch()`: a new connection, and a request thread each
  time it wakes the loop (it finished a request, so the connection reads
  again, or it left output for this thread to send; FrontServer.pull_trigger
  in front.py touches the connection the thread serves first);
- every `full_every` seconds, and after the loop's own bookkeeping (clocks,
  drain), all of them: what changed elsewhere (waitress's idle-connection
  sweep, a drain) is seen within that time, as with the loop's clocks.
The listening sockets and waitress's wake-up pipe are asked every turn (a
listener's readable() also counts the connections against the limit).

Event loop thread only, except `touch()`, which any thread may call.
"""

import collections
import select
import time

from waitress import wasyncore

IN = select.POLLIN | select.POLLPRI
OUT = select.POLLOUT


class Poller:
    def __init__(self, map, full_every=0.25):
        self.map = map
        self.full_every = full_every
        self._poll = select.poll()
        self._fds = {}        # obj -> fd it is registered under
        self._flags = {}      # fd -> flags registered
        self._touched = collections.deque()  # append/popleft: safe across threads
        self._always = []     # the listeners and the wake-up pipe
        self._next_full = 0.0

    def touch(self, obj):
        """`obj` may read or write otherwise than when it was last asked."""
        self._touched.append(obj)

    def everything(self):
        """Ask every connection on the next turn."""
        self._next_full = 0.0

    def turn(self, timeout):
        """Waits up to `timeout` seconds for events and handles them."""
        now = time.monotonic()
        if now >= self._next_full:
            self._next_full = now + self.full_every
            self._touched.clear()
            everyone = list(self.map.values())
            self._always = [obj for obj in everyone if not getattr(obj, "touches", False)]
            for obj in everyone:
                self._ask(obj)
            self._forget_closed()
        else:
            while self._touched:
                self._ask(self._touched.popleft())
            for obj in self._always:
                self._ask(obj)
        try:
            events = self._poll.poll(int(timeout * 1000))
        except InterruptedError:  # a signal: the loop looks at it, then turns again
            return
        for fd, flags in events:
            obj = self.map.get(fd)
            if obj is None:
                self._drop(fd)  # closed since it was registered
                continue
            wasyncore.readwrite(obj, flags)
            self._ask(obj)

    def _ask(self, obj):
        old = self._fds.get(obj)
        fd = getattr(obj, "_fileno", None)
        if fd is None or self.map.get(fd) is not obj:  # closed
            if old is not None:
                del self._fds[obj]
                if self._fds_owner(old) is None:
                    self._drop(old)
            return
        if old is not None and old != fd:
            del self._fds[obj]
            self._drop(old)
        flags = 0
        if obj.readable():
            flags |= IN
        if obj.writable() and not obj.accepting:
            flags |= OUT
        self._fds[obj] = fd
        if self._flags.get(fd) == flags:
            return
        if flags:
            self._poll.register(fd, flags)  # registers or modifies
            self._flags[fd] = flags
        else:
            self._drop(fd)

    def _fds_owner(self, fd):
        obj = self.map.get(fd)
        return obj if obj is not None and self._fds.get(obj) == fd else None

    def _drop(self, fd):
        if self._flags.pop(fd, None) is not None:
            try:
                self._poll.unregister(fd)
            except KeyError:
                pass

    def _forget_closed(self):
        for obj in [o for o in self._fds if self.map.get(self._fds[o]) is not o]:
            fd = self._fds.pop(obj)
            if self._fds_owner(fd) is None:
                self._drop(fd)
