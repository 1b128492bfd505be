"""The unit tests cannot reach the network: conftest's guard stops connections to anything but loopback."""

import socket
import time
import urllib.error
import urllib.request

import pytest

NETWORK_DISABLED = "network disabled in unit tests"
TEST_NET = ("192.0.2.1", 80)  # a documentation-only address (RFC 5737)


@pytest.fixture
def guard_installed():
    """Refuse to run a connect unless the guard is in place, so these tests never send a packet out."""
    if socket.socket.connect.__name__ != "guarded_connect" or socket.create_connection.__name__ != \
            "guarded_create_connection":
        pytest.fail("the network guard is not installed")


def test_connect_to_a_remote_address_fails_at_once(guard_installed):
    start = time.perf_counter()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(OSError, match=NETWORK_DISABLED):
            sock.connect(TEST_NET)
        with pytest.raises(OSError, match=NETWORK_DISABLED):
            sock.connect_ex(TEST_NET)
    with pytest.raises(OSError, match=NETWORK_DISABLED):
        socket.create_connection(TEST_NET, timeout=5)
    with pytest.raises(OSError, match=NETWORK_DISABLED):
        socket.create_connection(("example.org", 443), timeout=5)
    assert time.perf_counter() - start < 0.5


def test_a_download_fails_at_once(guard_installed):
    start = time.perf_counter()
    with pytest.raises(urllib.error.URLError, match=NETWORK_DISABLED):
        urllib.request.urlopen("http://192.0.2.1/file", timeout=5)
    assert time.perf_counter() - start < 0.5


def test_loopback_connections_still_work(guard_installed, silent_listener):
    with socket.create_connection(silent_listener, timeout=2):
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.connect_ex(silent_listener) == 0


@pytest.mark.parametrize("address, local", [
    (("127.0.0.1", 80), True), (("127.8.0.1", 80), True), (("localhost", 80), True), (("::1", 80, 0, 0), True),
    ("/run/some.sock", True), (("192.0.2.1", 80), False), (("10.0.0.1", 80), False),
    (("example.org", 80), False), ((b"8.8.8.8", 53), False),
])
def test_only_loopback_addresses_are_allowed(no_network, address, local):
    assert no_network(address) is local
