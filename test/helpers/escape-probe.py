# Runs inside the isolation container as the agent user: tries each way out the firewall must
# close and prints one JSON object saying what happened (the errno name, or what got through).
# The destinations, given as JSON in argv[1], are all this machine or containers the test made.
import errno
import json
import os
import socket
import subprocess
import sys

p = json.loads(sys.argv[1])
out = {"uid": os.getuid()}


def why(e):
    if isinstance(e, OSError) and e.errno in errno.errorcode:
        return errno.errorcode[e.errno]
    return type(e).__name__


def tcp(host, port, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, port))
        return "connected"
    except Exception as e:
        return why(e)
    finally:
        s.close()


def udp(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b"vectra-escape-probe", (host, port))
        return "sent"
    except Exception as e:
        return why(e)
    finally:
        s.close()


def run(args):
    r = subprocess.run(args, capture_output=True, text=True)
    return {"code": r.returncode, "stderr": r.stderr.strip()[-300:]}


def open_socket(family, kind, proto=0):
    try:
        socket.socket(family, kind, proto).close()
        return "opened"
    except Exception as e:
        return why(e)


def ping(host):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    except Exception as e:
        return "socket " + why(e)
    s.settimeout(2)
    try:
        s.sendto(b"\x08\x00\x00\x00\x00\x00\x00\x01vectra", (host, 0))
        s.recv(1024)
        return "reply"
    except Exception as e:
        return why(e)
    finally:
        s.close()


# First the attempts to undo the firewall: every probe below runs after them.
out["iptables_flush"] = run(["iptables", "-F", "OUTPUT"])
out["iptables_accept"] = run(["iptables", "-P", "OUTPUT", "ACCEPT"])

gateway = socket.gethostbyname("host.docker.internal")  # /etc/hosts, no DNS
bridge = p["bridge"]
listener = "http://%s:%d" % (bridge, p["tcpPort"])
out["tcp_api"] = tcp(gateway, p["apiPort"])
out["tcp_listener"] = tcp(bridge, p["tcpPort"])
out["curl_noproxy"] = run(["curl", "--noproxy", "*", "-sS", "-m", "3", listener + "/noproxy"])
out["curl_unset_proxy"] = run(
    ["env", "-u", "HTTPS_PROXY", "-u", "https_proxy", "-u", "HTTP_PROXY", "-u", "http_proxy",
     "curl", "-sS", "-m", "3", listener + "/unset-proxy"]
)
out["tcp_peer"] = tcp(p["peerIp"], p["peerPort"])
out["udp"] = udp(bridge, p["udpPort"])
out["ping"] = ping(bridge)
out["raw_icmp"] = open_socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
out["raw_packet"] = open_socket(socket.AF_PACKET, socket.SOCK_RAW)
if p.get("ipv6"):
    out["tcp_ipv6"] = tcp(p["ipv6"], p["tcpPort"], socket.AF_INET6)
if p.get("dns"):
    # Docker's resolver for this network, then a lookup through whatever resolv.conf names.
    out["udp_resolver"] = udp("127.0.0.11", 53)
    try:
        socket.getaddrinfo(p["dns"], 80)
        out["lookup"] = "resolved"
    except Exception as e:
        out["lookup"] = type(e).__name__
print(json.dumps(out))
