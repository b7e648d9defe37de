"""Real receivers for Touchpoint's trigger tests, independent of Touchpoint's code.

webhook PORTFILE LOG SECRET [PLAN [CERT KEY]]
    An HTTP server (HTTPS with CERT and KEY, PEM files) that checks every request's Standard Webhooks signature with the
    reference implementation (the `standardwebhooks` PyPI package) and appends one JSON
    line per request to LOG: {"id", "valid", "attempt", "status", "body"}. PLAN (JSON)
    says what to answer: {"fail_first": N, "fail_status": 503, "retry_after": S,
    "status": 200} — the first N attempts of each webhook-id get fail_status (with a
    Retry-After of S seconds when given), later ones `status` (410 makes it gone). A
    request whose signature does not verify gets 400.

smtp PORTFILE OUTDIR [starttls|implicit CERT KEY]
    An SMTP server (aiosmtpd) that writes every message it accepts to OUTDIR/N.eml and
    its envelope to OUTDIR/N.json; with TLS, either STARTTLS required before MAIL or TLS
    from the first byte (SMTPS), with the certificate CERT and its key KEY (PEM files).

parse FILE
    Prints a message Python's own e-mail parser read: {"subject", "from", "to",
    "message_id", "list_unsubscribe", "list_unsubscribe_post", "text", "html"}.

Each server writes its port to PORTFILE once it listens, then runs until killed.
"""

import json
import os
import sys
import threading
import time


def write_port(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.replace(tmp, path)


def server_tls(cert, key):
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def webhook(portfile, log, secret, plan_text="{}", cert=None, key=None):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    plan = json.loads(plan_text)
    hook = Webhook(secret)
    attempts = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            msg_id = headers.get("webhook-id", "")
            try:
                hook.verify(body, headers)
                valid = True
            except WebhookVerificationError:
                valid = False
            with lock:
                attempts[msg_id] = attempts.get(msg_id, 0) + 1
                attempt = attempts[msg_id]
            extra = {}
            if not valid:
                status = 400
            elif attempt <= plan.get("fail_first", 0):
                status = plan.get("fail_status", 503)
                if "retry_after" in plan:
                    extra["Retry-After"] = str(plan["retry_after"])
            else:
                status = plan.get("status", 200)
            with lock, open(log, "a") as f:
                f.write(json.dumps({
                    "id": msg_id,
                    "valid": valid,
                    "attempt": attempt,
                    "status": status,
                    "at": time.time(),
                    "signatures": headers.get("webhook-signature", "").count("v1,"),
                    "body": json.loads(body or b"null"),
                }) + "\n")
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("content-length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if cert:
        server.socket = server_tls(cert, key).wrap_socket(server.socket, server_side=True)
    write_port(portfile, server.server_address[1])
    server.serve_forever()


def smtp(portfile, outdir, mode=None, cert=None, key=None):
    import socket

    from aiosmtpd.controller import Controller

    os.makedirs(outdir, exist_ok=True)
    counter = {"n": 0}
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            with lock:
                counter["n"] += 1
                n = counter["n"]
            with open(os.path.join(outdir, f"{n}.eml"), "wb") as f:
                f.write(envelope.original_content or envelope.content)
            with open(os.path.join(outdir, f"{n}.json"), "w") as f:
                json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos}, f)
            return "250 Message accepted for delivery"

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    if mode == "starttls":
        controller = Controller(Handler(), hostname="127.0.0.1", port=port,
                                tls_context=server_tls(cert, key), require_starttls=True)
    elif mode == "implicit":
        controller = Controller(Handler(), hostname="127.0.0.1", port=port, ssl_context=server_tls(cert, key))
    else:
        controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    write_port(portfile, port)
    while True:
        time.sleep(3600)


def parse(path):
    from email import policy
    from email.parser import BytesParser

    with open(path, "rb") as f:
        m = BytesParser(policy=policy.default).parse(f)
    text = m.get_body(preferencelist=("plain",))
    html = m.get_body(preferencelist=("html",))
    print(json.dumps({
        "subject": str(m["subject"]),
        "from": str(m["from"]),
        "to": str(m["to"]),
        "message_id": str(m["message-id"]),
        "list_unsubscribe": str(m["list-unsubscribe"]),
        "list_unsubscribe_post": str(m["list-unsubscribe-post"]),
        "text": text.get_content() if text else None,
        "html": html.get_content() if html else None,
    }))


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "webhook":
        webhook(*sys.argv[2:])
    elif kind == "smtp":
        smtp(*sys.argv[2:])
    elif kind == "parse":
        parse(*sys.argv[2:])
    else:
        sys.exit(f"unknown receiver {kind}")
