"""bridge/http/poller.py: the front's event loop asks a connection whether it
reads or writes only when that may have changed, and never loses one.

Real sockets, fake dispatchers that count the questions (no timing)."""

import socket

from bridge.http.poller import Poller


class Conn:
    """A dispatcher as wasyncore's loop sees one, counting readable() calls."""

    touches = True
    accepting = False

    def __init__(self, map):
        self.sock, self.peer = socket.socketpair()
        self._fileno = self.sock.fileno()
        self.map = map
        map[self._fileno] = self
        self.reads = True
        self.asked = 0
        self.events = []

    def readable(self):
        self.asked += 1
        return self.reads

    def writable(self):
        return False

    def handle_read_event(self):
        self.events.append(self.sock.recv(100))

    def handle_write_event(self):
        self.events.append("write")

    def handle_expt_event(self):
        pass

    def handle_close(self):
        self.close()

    def close(self):
        self.map.pop(self._fileno, None)
        self._fileno = None
        self.sock.close()
        self.peer.close()


def test_only_touched_or_active_connections_are_asked_again():
    map = {}
    poller = Poller(map)
    busy, idle = Conn(map), Conn(map)
    poller.turn(0)  # the first turn asks everyone
    assert (busy.asked, idle.asked) == (1, 1)
    for _ in range(5):
        poller.turn(0)
    assert (busy.asked, idle.asked) == (1, 1)  # nothing changed, nobody asked

    busy.peer.send(b"hello")
    poller.turn(1)
    assert busy.events == [b"hello"] and busy.asked == 2 and idle.asked == 1  # its event, then asked

    idle.reads = False  # changed on another thread, untold: still registered as reading
    idle.peer.send(b"early")
    poller.turn(1)
    assert idle.events == [b"early"] and idle.asked == 2  # asked after its event: now not reading
    idle.peer.send(b"held")
    poller.turn(0)
    assert idle.events == [b"early"]  # not reading, its bytes wait in the kernel
    idle.reads = True
    poller.touch(idle)  # told: asked on the next turn, then read
    poller.turn(1)
    assert idle.events == [b"early", b"held"] and idle.asked == 4


def test_every_connection_is_asked_again_after_everything():
    map = {}
    poller = Poller(map)
    a, b = Conn(map), Conn(map)
    for _ in range(3):
        poller.everything()
        poller.turn(0)
    poller.turn(0)
    assert (a.asked, b.asked) == (3, 3)


def test_closed_connections_are_let_go_and_their_descriptors_reused():
    map = {}
    poller = Poller(map)
    gone = Conn(map)
    poller.turn(0)
    old_fd = gone._fileno
    gone.close()
    poller.turn(0)  # its descriptor is closed: poll() says so once, it is dropped
    assert old_fd not in poller._registered
    fresh = Conn(map)  # the kernel hands the lowest free descriptor out again
    poller.touch(fresh)
    fresh.peer.send(b"new")
    poller.turn(1)
    assert fresh.events == [b"new"]
    poller.everything()
    poller.turn(0)  # a full pass forgets the closed one: nothing held for good
    assert list(poller._registered) == [fresh._fileno]
    unheard = Conn(map)
    poller.touch(unheard)
    poller.turn(0)
    unheard_fd = unheard._fileno
    unheard.close()
    keep = socket.socket()  # takes the number: poll() never says it closed
    assert keep.fileno() == unheard_fd
    poller.everything()
    poller.turn(0)  # a full pass lets the number go all the same
    assert list(poller._registered) == [fresh._fileno]
    keep.close()
    fresh.close()


class Opener(Conn):
    """A listener's part: reading makes a new connection, at the lowest free number."""

    touches = False

    def __init__(self, map, poller):
        super().__init__(map)
        self.poller, self.opened = poller, []

    def handle_read_event(self):
        self.sock.recv(100)
        self.opened.append(Conn(self.map))
        self.poller.touch(self.opened[-1])


def test_an_event_of_a_closed_connection_does_not_reach_the_one_that_got_its_number():
    map = {}
    poller = Poller(map)
    opener = Opener(map, poller)
    poller.turn(0)  # the opener is registered first, so its events come first
    old = Conn(map)
    poller.touch(old)
    poller.turn(0)
    old_fd = old._fileno
    old.close()  # closed, nobody told: poll() reports its number invalid next
    opener.peer.send(b"accept")
    poller.turn(1)  # the opener's event makes a new connection on old's number first
    new = opener.opened[0]
    assert new._fileno == old_fd
    assert map.get(old_fd) is new, "the old connection's POLLNVAL closed the new one"
    new.peer.send(b"mine")
    poller.turn(1)
    assert new.events == [b"mine"]
    new.close()
    opener.close()
