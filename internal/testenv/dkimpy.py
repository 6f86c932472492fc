# Signs or verifies messages with dkimpy (Debian's python3-dkim), for the
# interop tests. Reads one JSON request on stdin, writes a JSON answer.
# Messages travel as latin-1 strings so that any byte survives.
#   {"op": "sign", "domain", "selector", "key", "alg", "headers",
#    "messages": [{"msg", "hc", "bc"}]}   -> [signed message, ...]
#   {"op": "verify", "records": {name: TXT}, "messages": [msg, ...]}
#                                         -> [[ok per signature], ...]
import json
import sys

import dkim

req = json.load(sys.stdin)
out = []
if req["op"] == "sign":
    for m in req["messages"]:
        msg = m["msg"].encode("latin-1")
        sig = dkim.sign(
            msg,
            req["selector"].encode(),
            req["domain"].encode(),
            req["key"].encode(),
            canonicalize=(m["hc"].encode(), m["bc"].encode()),
            signature_algorithm=req["alg"].encode(),
            include_headers=[h.encode() for h in req["headers"]],
        )
        out.append((sig + msg).decode("latin-1"))
else:
    records = req["records"]

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        return records.get(name.rstrip("."), "").encode()

    def verify(d, i):
        # DKIM.verify raises on some failures (a body hash mismatch)
        # instead of returning False, as dkim.verify() would.
        try:
            return bool(d.verify(idx=i, dnsfunc=dnsfunc))
        except dkim.DKIMException:
            return False

    for m in req["messages"]:
        msg = m.encode("latin-1")
        d = dkim.DKIM(msg)
        n = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
        out.append([verify(d, i) for i in range(n)])
json.dump(out, sys.stdout)
