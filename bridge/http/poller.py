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
- all of them after `everything()`, which the loop calls after its own
  bookkeeping (clocks, drain) once per LOOP_TIMEOUT: what changed elsewhere
  (waitress's idle-connection sweep, a drain) is seen within that time, as
  with the loop's clocks.
The listening sockets and waitress's wake-up pipe are asked every turn (a
listener's readable() also counts the connections against the limit).

Event loop thread only, except `touch()`, which any thread may call.
"""

import collections
import select

from waitress import wasyncore

IN = select.POLLIN | select.POLLPRI
OUT = select.POLLOUT


class Poller:
    def __init__(self, map):
        self.map = map
        self._poll = select.poll()
        self._registered = {}  # fd -> (obj, flags) it was registered for
        self._touched = collections.deque()  # append/popleft: safe across threads
        self._always = []     # the listeners and the wake-up pipe
        self._full = True

    def touch(self, obj):
        """`obj` may read or write otherwise than when it was last asked."""
        self._touched.append(obj)

    def everything(self):
        """Ask every connection on the next turn."""
        self._full = True

    def turn(self, timeout):
        """Waits up to `timeout` seconds for events and handles them."""
        if self._full:
            self._full = False
            self._touched.clear()
            everyone = list(self.map.values())
            self._always = [obj for obj in everyone if not getattr(obj, "touches", False)]
            for fd in [fd for fd in self._registered if fd not in self.map]:
                self._drop(fd)  # closed, and poll() has not said so yet
            for obj in everyone:
                self._ask(obj)
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
                self._drop(fd)  # closed since it was registered (POLLNVAL, or a reused number)
                continue
            if self._registered[fd][0] is not obj:
                # The number was closed and given to a new connection since it
                # was registered: the event (POLLNVAL, say) was the old one's.
                # The new one is asked, and poll() says again what is its own.
                self._ask(obj)
                continue
            wasyncore.readwrite(obj, flags)
            self._ask(obj)

    def _ask(self, obj):
        fd = getattr(obj, "_fileno", None)
        # Closed: its number stays registered until poll() reports it (POLLNVAL,
        # or events of whatever file has the number now), or a full pass. A
        # connection that gets the number is touched when it is made.
        if fd is None or self.map.get(fd) is not obj:
            return
        flags = 0
        if obj.readable():
            flags |= IN
        if obj.writable() and not obj.accepting:
            flags |= OUT
        held = self._registered.get(fd)
        if held is not None and held[0] is obj and held[1] == flags:
            return
        if flags:
            self._poll.register(fd, flags)  # registers or modifies
            self._registered[fd] = (obj, flags)
        else:
            self._drop(fd)

    def _drop(self, fd):
        if self._registered.pop(fd, None) is not None:
            try:
                self._poll.unregister(fd)
            except KeyError:
                pass
