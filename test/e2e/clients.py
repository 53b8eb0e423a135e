#!/usr/bin/env python3
"""Mail clients for the e2e tests: Python's own imaplib, poplib and smtplib.

usage: clients.py MODE HOST [options]; the password comes from $MH_PASS (never argv).
Prints one JSON object: {"ok": true, ...} or {"ok": false, "error": "..."}.
MODE: imap | imaps | pop3 | pop3s | submission | smtps
"""
import argparse, imaplib, json, os, poplib, smtplib, ssl, sys
from email.message import EmailMessage

p = argparse.ArgumentParser()
p.add_argument("mode")
p.add_argument("host")
p.add_argument("--user", required=True)
p.add_argument("--cafile", help="verify the server certificate against this CA/cert")
p.add_argument("--plain", action="store_true", help="imap/pop3 without STARTTLS")
p.add_argument("--sender")
p.add_argument("--to")
p.add_argument("--subject", default="mailhost e2e")
p.add_argument("--source", help="local address to connect from")
a = p.parse_args()
pw = os.environ.get("MH_PASS", "")


def context():
    if a.cafile:
        c = ssl.create_default_context(cafile=a.cafile)
        c.check_hostname = False  # we connect by address; the name is checked separately
        return c
    return ssl._create_unverified_context()


def out(**kw):
    print(json.dumps(kw, ensure_ascii=False))
    sys.exit(0)


src = (a.source, 0) if a.source else None
_create_connection = __import__("socket").create_connection
# imaplib and poplib take no source address: bind every connection of this process.
__import__("socket").create_connection = lambda addr, timeout=20, source_address=None, **kw: _create_connection(addr, timeout, source_address or src, **kw)

try:
    if a.mode in ("imap", "imaps"):
        if a.mode == "imaps":
            m = imaplib.IMAP4_SSL(a.host, 993, ssl_context=context())
        else:
            m = imaplib.IMAP4(a.host, 143)
            if not a.plain:
                m.starttls(ssl_context=context())
        # AUTHENTICATE PLAIN carries UTF-8 passwords (LOGIN would need ASCII).
        typ, _ = m.authenticate("PLAIN", lambda _: b"\0" + a.user.encode() + b"\0" + pw.encode())
        typ, data = m.select("INBOX", readonly=True)
        count = int(data[0])
        subjects = []
        if count:
            typ, msgs = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            subjects = [x[1].decode("utf-8", "replace").strip().removeprefix("Subject: ") for x in msgs if isinstance(x, tuple)]
        m.logout()
        out(ok=True, count=count, subjects=subjects)
    elif a.mode in ("pop3", "pop3s"):
        if a.mode == "pop3s":
            m = poplib.POP3_SSL(a.host, 995, context=context())
        else:
            m = poplib.POP3(a.host, 110)
            if not a.plain:
                m.stls(context=context())
        m.user(a.user)
        m.pass_(pw)
        count, _ = m.stat()
        subjects = []
        for i in range(1, count + 1):
            for line in m.top(i, 0)[1]:
                if line.lower().startswith(b"subject:"):
                    subjects.append(line.decode("utf-8", "replace")[8:].strip())
        m.quit()
        out(ok=True, count=count, subjects=subjects)
    elif a.mode in ("submission", "smtps"):
        if a.mode == "smtps":
            s = smtplib.SMTP_SSL(a.host, 465, context=context(), source_address=src, timeout=20)
        else:
            s = smtplib.SMTP(a.host, 587, source_address=src, timeout=20)
            s.starttls(context=context())
        s.login(a.user, pw)
        msg = EmailMessage()
        msg["From"] = a.sender
        msg["To"] = a.to
        msg["Subject"] = a.subject
        msg.set_content("sent by mailhost's e2e test\n")
        refused = s.send_message(msg)
        s.quit()
        out(ok=True, refused=list(refused))
    else:
        out(ok=False, error=f"unknown mode {a.mode}")
except Exception as e:  # noqa: BLE001 - the test reads the error
    out(ok=False, error=f"{type(e).__name__}: {e}")
