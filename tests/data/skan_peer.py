#!/usr/bin/env python3
"""Socket programs run inside the network namespaces by make-captures.py.

Each mode is one side of one scenario; the kernel under test does all the
TCP.  Usage: skan_peer.py MODE HOST PORT [ARG...]
"""
import socket
import struct
import sys
import time


def fam(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listener(host, port, backlog=16, rcvbuf=0):
    s = socket.socket(fam(host), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((host, port))
    s.listen(backlog)
    print("ready", flush=True)
    return s


def connect(host, port, timeout=None):
    c = socket.socket(fam(host), socket.SOCK_STREAM)
    if timeout:
        c.settimeout(timeout)
    c.connect((host, port))
    return c


def recv_all(s):
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            return data
        data += b


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    args = sys.argv[4:]

    if mode == "echo-server":
        # One request, one response; close after the client does, or first
        # when told to ("server-first").
        n = int(args[0]) if args else 1
        first = len(args) > 1 and args[1] == "server-first"
        size = int(args[2]) if len(args) > 2 else 1000
        ls = listener(host, port, 128)
        for _ in range(n):
            a, _ = ls.accept()
            a.recv(4096)
            a.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * size)
            if first:
                a.close()
                continue
            recv_all(a)
            a.close()
    elif mode == "echo-client":
        n = int(args[0]) if args else 1
        wait_close = len(args) > 1 and args[1] == "server-first"
        for _ in range(n):
            c = connect(host, port)
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            recv_all(c) if wait_close else c.recv(65536)
            if not wait_close:
                time.sleep(0.01)
            c.close()
            time.sleep(0.005)
    elif mode == "connect-fail":
        try:
            connect(host, port, timeout=float(args[0]) if args else None)
        except OSError as e:
            print("connect:", e, flush=True)
    elif mode == "late-data-client":
        # Handshake, then data only after a pause (the pure ACK is dropped
        # on the way, so the server resends its SYN-ACK meanwhile).
        c = connect(host, port)
        time.sleep(float(args[0]))
        c.sendall(b"hello")
        c.recv(100)
        c.close()
        time.sleep(0.2)
    elif mode == "hello-server":
        ls = listener(host, port)
        a, _ = ls.accept()
        a.recv(100)
        a.sendall(b"world")
        recv_all(a)
        a.close()
    elif mode == "close-wait-server":
        # Reads EOF and never closes (until killed): the CLOSE_WAIT leak.
        ls = listener(host, port)
        a, _ = ls.accept()
        # Keepalives every 0.5 s show the connection alive in CLOSE_WAIT
        # (and the capture's clock moving) while nobody closes it.
        a.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        a.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        a.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        recv_all(a)
        time.sleep(float(args[0]))
    elif mode == "half-close-client":
        c = connect(host, port)
        c.sendall(b"bye")
        c.close()
        time.sleep(float(args[0]) if args else 0.2)
    elif mode == "linger0-client":
        # close() with SO_LINGER {1, 0}: an abortive close, RST not FIN.
        c = connect(host, port)
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        c.recv(65536)
        time.sleep(0.05)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        time.sleep(0.2)
    elif mode == "unread-server":
        # Closes with the request unread: Linux sends RST (tcp_close).
        ls = listener(host, port)
        a, _ = ls.accept()
        time.sleep(0.2)
        a.close()
        time.sleep(0.3)
    elif mode == "send-wait-client":
        c = connect(host, port)
        c.sendall(b"request that nobody reads")
        try:
            c.recv(100)
        except OSError as e:
            print("recv:", e, flush=True)
    elif mode == "slow-reader-server":
        # A small receive buffer read only after a pause: zero window.
        ls = listener(host, port, rcvbuf=4096)
        a, _ = ls.accept()
        time.sleep(float(args[0]))
        total = len(recv_all(a))
        print("read", total, flush=True)
        a.close()
    elif mode == "bulk-client":
        c = connect(host, port)
        c.sendall(b"z" * int(args[0]))
        c.shutdown(socket.SHUT_WR)
        recv_all(c)
        c.close()
        time.sleep(0.2)
    elif mode == "bulk-server":
        # Sends N bytes to whoever connects, then closes after the client.
        ls = listener(host, port)
        a, _ = ls.accept()
        a.recv(100)
        a.sendall(b"y" * int(args[0]))
        a.settimeout(float(args[1]) if len(args) > 1 else None)
        try:
            recv_all(a)
        except OSError:
            pass
        a.close()
    elif mode == "bulk-get-client":
        c = connect(host, port)
        c.sendall(b"GET")
        c.settimeout(float(args[0]) if args else None)
        try:
            n = len(recv_all(c))
            print("got", n, flush=True)
        except OSError as e:
            print("recv:", e, flush=True)
        c.close()
        time.sleep(0.2)
    elif mode == "idle-server":
        # Accepts, talks once, then keeps the connection until killed.
        ls = listener(host, port)
        a, _ = ls.accept()
        a.recv(100)
        a.sendall(b"ok")
        # Expose the next sequence number for the forged RST.
        a.setsockopt(socket.IPPROTO_TCP, 19, 1)  # TCP_REPAIR
        a.setsockopt(socket.IPPROTO_TCP, 20, 2)  # TCP_REPAIR_QUEUE = SEND
        seq = a.getsockopt(socket.IPPROTO_TCP, 21)  # TCP_QUEUE_SEQ
        a.setsockopt(socket.IPPROTO_TCP, 19, 0)
        open(args[0], "w").write("%d %d\n" % (seq & 0xffffffff, a.getpeername()[1]))
        time.sleep(30)
    elif mode == "idle-client":
        c = connect(host, port)
        c.sendall(b"hi")
        c.recv(100)
        try:
            c.settimeout(float(args[0]))
            print("recv:", c.recv(100), flush=True)
        except OSError as e:
            print("recv:", e, flush=True)
    elif mode == "forge-rst":
        # A RST "from" the server with another TTL, as a middlebox forges.
        src, dport_file, ttl = args[0], args[1], int(args[2])
        seq, dport = map(int, open(dport_file).read().split())
        tcp = struct.pack("!HHIIBBHHH", port, dport, seq, 0, 5 << 4, 0x04, 0, 0, 0)
        s4 = socket.inet_aton(src)
        d4 = socket.inet_aton(host)
        pseudo = s4 + d4 + struct.pack("!BBH", 0, 6, len(tcp))
        data = pseudo + tcp
        csum = sum(struct.unpack("!%dH" % (len(data) // 2), data))
        while csum >> 16:
            csum = (csum & 0xffff) + (csum >> 16)
        tcp = tcp[:16] + struct.pack("!H", ~csum & 0xffff) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0x1234, 0x4000, ttl, 6, 0, s4, d4)
        r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        r.sendto(ip + tcp, (host, 0))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
