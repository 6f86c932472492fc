"""Drive Postel's POP3 server with Python's poplib (run by clients_test.go).

Usage: poplib_client.py MODE HOST PORT CAFILE USER PASSWORD OUTDIR DELETE
MODE is plain (USER/PASS on loopback), stls, ssl (POP3_SSL) or sasl
(AUTH PLAIN with an initial response, over STLS). Every message is written
to OUTDIR/<n> as poplib returns it (dot-stuffing undone, CRLF line ends);
a JSON summary goes to stdout.
"""
import base64
import json
import os
import poplib
import ssl
import sys

mode, host, port, cafile, user, password, outdir, delete = sys.argv[1:]
ctx = ssl.create_default_context(cafile=cafile)
if mode == "ssl":
    p = poplib.POP3_SSL(host, int(port), context=ctx, timeout=30)
else:
    p = poplib.POP3(host, int(port), timeout=30)
out = {"welcome": p.getwelcome().decode(), "capa_before": sorted(p.capa())}
if mode in ("stls", "sasl"):
    p.stls(context=ctx)
out["capa"] = sorted(p.capa())
if mode == "sasl":
    resp = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
    out["auth"] = p._shortcmd("AUTH PLAIN " + resp.decode()).decode()
else:
    p.user(user)
    out["auth"] = p.pass_(password).decode()
count, size = p.stat()
out["stat"] = [count, size]
out["list"] = [l.decode() for l in p.list()[1]]
out["uidl"] = [l.decode() for l in p.uidl()[1]]
out["octets"] = []
for i in range(1, count + 1):
    _, lines, octets = p.retr(i)
    out["octets"].append(octets)
    with open(os.path.join(outdir, str(i)), "wb") as f:
        f.write(b"".join(l + b"\r\n" for l in lines))
if count:
    out["top"] = [l.decode(errors="replace") for l in p.top(1, 0)[1]]
if delete == "1":
    for i in range(1, count + 1):
        p.dele(i)
out["quit"] = p.quit().decode()
print(json.dumps(out))
