#!/usr/bin/env python3
"""Mail clients for the e2e tests: Python's own imaplib, poplib and smtplib.

usage: clients.py MODE HOST [options]; the password comes from $MH_PASS (never argv).
Prints one JSON object: {"ok": true, ...} or {"ok": false, "error": "..."}.
MODE: imap | imaps | pop3 | pop3s | submission | smtps | probe | envelope
probe: no login; reports the capabilities a server offers before and after TLS and the
TLS session (version, cipher, certificate) of --port (--proto smtp|imap|pop3).
envelope: SMTP on --port up to RCPT (STARTTLS unless --implicit or --no-tls; AUTH
unless --user is "-"), no DATA; reports each reply code.
"""
import argparse, base64, imaplib, json, os, poplib, smtplib, ssl, sys, warnings
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
p.add_argument("--login", action="store_true", help="imap: the LOGIN command instead of AUTHENTICATE PLAIN")
p.add_argument("--fetch", metavar="SUBJECT", help="imap: also return the raw message with this subject (base64)")
p.add_argument("--port", type=int, help="probe: the port")
p.add_argument("--proto", choices=["smtp", "imap", "pop3"], help="probe: the protocol spoken on --port")
p.add_argument("--implicit", action="store_true", help="probe: TLS from the first byte (465, 993, 995)")
p.add_argument("--no-tls", action="store_true", help="probe: only the capabilities offered without TLS")
p.add_argument("--tls-version", choices=["1.0", "1.1", "1.2", "1.3"], help="probe: offer only this TLS version (security level 0)")
p.add_argument("--timeout", type=float, default=20)
a = p.parse_args()
pw = os.environ.get("MH_PASS", "")


def context():
    if a.tls_version:
        # Only this version, with OpenSSL's security level 0 so that this client can
        # offer TLS 1.0/1.1 at all: if the handshake fails, the server refused it.
        v = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1, "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[a.tls_version]
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.check_hostname = False
        c.verify_mode = ssl.CERT_NONE
        c.set_ciphers("ALL:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLS < 1.2, on purpose
            c.minimum_version = v
            c.maximum_version = v
        return c
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
__import__("socket").create_connection = lambda addr, timeout=a.timeout, source_address=None, **kw: _create_connection(addr, timeout, source_address or src, **kw)


def tls_info(sock):
    return {"version": sock.version(), "cipher": sock.cipher()[0], "der": base64.b64encode(sock.getpeercert(True)).decode()}


def smtp_caps(s):
    return [f"{k.upper()} {v}".strip() for k, v in s.esmtp_features.items()]


def probe():
    """Capabilities before/after TLS and the TLS session; partial results on failure."""
    r = {"port": a.port}
    try:
        if a.proto == "smtp":
            if a.implicit:
                s = smtplib.SMTP_SSL(a.host, a.port, context=context(), source_address=src, timeout=a.timeout)
            else:
                s = smtplib.SMTP(a.host, a.port, source_address=src, timeout=a.timeout)
                s.ehlo("client.linuxprobe.com")
                r["before"] = smtp_caps(s)
                r["offered"] = s.has_extn("starttls")
                if a.no_tls:
                    s.quit()
                    return dict(ok=True, **r)
                s.starttls(context=context())
            s.ehlo("client.linuxprobe.com")
            r["after"] = smtp_caps(s)
            r["tls"] = tls_info(s.sock)
            s.quit()
        elif a.proto == "imap":
            if a.implicit:
                m = imaplib.IMAP4_SSL(a.host, a.port, ssl_context=context(), timeout=a.timeout)
            else:
                m = imaplib.IMAP4(a.host, a.port, timeout=a.timeout)
                r["before"] = list(m.capabilities)
                r["offered"] = "STARTTLS" in m.capabilities
                if a.no_tls:
                    m.logout()
                    return dict(ok=True, **r)
                m.starttls(ssl_context=context())
            r["after"] = list(m.capabilities)
            r["tls"] = tls_info(m.sock)
            m.logout()
        elif a.proto == "pop3":
            if a.implicit:
                m = poplib.POP3_SSL(a.host, a.port, context=context(), timeout=a.timeout)
            else:
                m = poplib.POP3(a.host, a.port, timeout=a.timeout)
                caps = m.capa()
                r["before"] = [" ".join([k, *v]) for k, v in caps.items()]
                r["offered"] = "STLS" in caps
                if a.no_tls:
                    m.quit()
                    return dict(ok=True, **r)
                m.stls(context=context())
            r["after"] = [" ".join([k, *v]) for k, v in m.capa().items()]
            r["tls"] = tls_info(m.sock)
            m.quit()
        else:
            return dict(ok=False, error="probe needs --port and --proto", **r)
        return dict(ok=True, **r)
    except Exception as e:  # noqa: BLE001 - the test reads the error
        return dict(ok=False, error=f"{type(e).__name__}: {e}", **r)


def envelope():
    """EHLO, [STARTTLS], [AUTH], MAIL FROM, RCPT TO: the reply of each, up to the first refusal."""
    steps = []
    try:
        if a.implicit:
            s = smtplib.SMTP_SSL(a.host, a.port, context=context(), source_address=src, timeout=a.timeout)
        else:
            s = smtplib.SMTP(a.host, a.port, source_address=src, timeout=a.timeout)
        s.ehlo("client.linuxprobe.com")
        if not a.implicit and not a.no_tls:
            code, msg = s.starttls(context=context())
            steps.append({"step": "STARTTLS", "code": code, "reply": msg.decode("utf-8", "replace")})
            s.ehlo("client.linuxprobe.com")
        if a.user != "-":
            try:
                code, msg = s.login(a.user, pw)
            except smtplib.SMTPAuthenticationError as e:
                code, msg = e.smtp_code, e.smtp_error
            steps.append({"step": "AUTH", "code": code, "reply": msg.decode("utf-8", "replace")})
        for step, f in (("MAIL", lambda: s.mail(a.sender)), ("RCPT", lambda: s.rcpt(a.to))):
            if steps and steps[-1]["code"] >= 400:
                break
            code, msg = f()
            steps.append({"step": step, "code": code, "reply": msg.decode("utf-8", "replace")})
        try:
            s.rset()
            s.quit()
        except smtplib.SMTPException:
            pass  # the server may hang up after a refusal
        refused = next((x for x in steps if x["code"] >= 400), None)
        return {"ok": refused is None, "steps": steps, **({"refused": refused} if refused else {})}
    except Exception as e:  # noqa: BLE001 - the test reads the error
        return {"ok": False, "steps": steps, "error": f"{type(e).__name__}: {e}"}


try:
    if a.mode in ("imap", "imaps"):
        if a.mode == "imaps":
            m = imaplib.IMAP4_SSL(a.host, 993, ssl_context=context())
        else:
            m = imaplib.IMAP4(a.host, 143)
            if not a.plain:
                m.starttls(ssl_context=context())
        if a.login:
            m.login(a.user, pw)
        else:
            # AUTHENTICATE PLAIN carries UTF-8 passwords (LOGIN would need ASCII).
            typ, _ = m.authenticate("PLAIN", lambda _: b"\0" + a.user.encode() + b"\0" + pw.encode())
        typ, data = m.select("INBOX", readonly=True)
        count = int(data[0])
        subjects = []
        if count:
            typ, msgs = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            subjects = [x[1].decode("utf-8", "replace").strip().removeprefix("Subject: ") for x in msgs if isinstance(x, tuple)]
        raw = None
        if a.fetch and a.fetch in subjects:
            typ, msgs = m.fetch(str(subjects.index(a.fetch) + 1), "(BODY.PEEK[])")
            raw = base64.b64encode(next(x[1] for x in msgs if isinstance(x, tuple))).decode()
        m.logout()
        out(ok=True, count=count, subjects=subjects, **({"raw": raw} if a.fetch else {}))
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
    elif a.mode == "probe":
        out(**probe())
    elif a.mode == "envelope":
        out(**envelope())
    else:
        out(ok=False, error=f"unknown mode {a.mode}")
except Exception as e:  # noqa: BLE001 - the test reads the error
    out(ok=False, error=f"{type(e).__name__}: {e}")
