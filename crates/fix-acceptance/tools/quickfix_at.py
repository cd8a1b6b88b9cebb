#!/usr/bin/env python3
"""Reference acceptor for validating the runner itself: QuickFIX (Python bindings) with an
application that behaves as ../shared/acceptance/README.md describes QuickFIX's acceptance-test
application (echo NewOrderSingle, and SecurityDefinition on 4.2+; drop a PossResend order whose
ClOrdID was already seen; everything else is an unsupported message type).

Not part of the build or CI. To use it (the quickfix package builds from source, about 10 minutes):

    python3 -m venv /tmp/qf && /tmp/qf/bin/pip install quickfix
    PORT=$(cargo run -q --release -p fix-acceptance -- --print-free-port)
    /tmp/qf/bin/python crates/fix-acceptance/tools/quickfix_at.py $PORT ../shared &
    cargo run -q --release -p fix-acceptance -- --port $PORT ../shared/acceptance/quickfix/fix4*
"""
import os
import sys
import tempfile
import time

import quickfix as fix


class App(fix.Application):
    def __init__(self):
        super().__init__()
        self.orders = set()

    def onCreate(self, sid):
        pass

    def onLogon(self, sid):
        # Sequence numbers reset on every Logon; so does the duplicate-order memory.
        self.orders = {o for o in self.orders if o[1] != sid.toString()}

    def onLogout(self, sid):
        pass

    def toAdmin(self, msg, sid):
        pass

    def fromAdmin(self, msg, sid):
        pass

    def toApp(self, msg, sid):
        pass

    def fromApp(self, msg, sid):
        msg_type = msg.getHeader().getField(35)
        begin = sid.getBeginString().getValue()
        if msg_type == "D" or (msg_type == "d" and begin >= "FIX.4.2"):
            poss_resend = msg.getHeader().isSetField(97) and msg.getHeader().getField(97) == "Y"
            key = (msg.getField(11) if msg.isSetField(11) else "", sid.toString())
            if poss_resend and key in self.orders:
                return
            self.orders.add(key)
            fix.Session.sendToTarget(fix.Message(msg), sid)
            return
        raise fix.UnsupportedMessageType()


def main():
    port, shared = sys.argv[1], os.path.abspath(sys.argv[2])
    work = tempfile.mkdtemp(prefix="quickfix-at-")
    with open(os.path.join(shared, "acceptance/quickfix/cfg/at.cfg")) as f:
        cfg = f.read()
    cfg = (
        cfg.replace("../spec/", shared + "/spec/")
        .replace("FileStorePath=store", "FileStorePath=" + os.path.join(work, "store"))
        .replace("SocketAcceptPort=54321", "SocketAcceptPort=" + port)
    )
    path = os.path.join(work, "at.cfg")
    with open(path, "w") as f:
        f.write(cfg)
    acceptor = fix.SocketAcceptor(
        App(),
        fix.MemoryStoreFactory(),
        fix.SessionSettings(path),
        fix.ScreenLogFactory(False, False, False),
    )
    acceptor.start()
    print("listening on 127.0.0.1:" + port, flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
