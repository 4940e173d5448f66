#!/usr/bin/python3
"""ehxctl against the real gateway over mTLS: every command, exit codes,
and no personal data in error output. Registered with ctest as ehxctl_cli.

Usage: ehxctl_test.py --gateway BIN --ehxctl BIN --workdir DIR
                      --pki-script SCRIPT [--messages DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_test import Failure, Gateway, check, log, write_config  # noqa: E402

FAKE_NAME = "Zebedee Quixote-Example"


class Ctl:
    def __init__(self, binary, env):
        self.binary = binary
        self.env = env

    def __call__(self, *args, stdin=None, timeout=30):
        p = subprocess.run([self.binary, *args], input=stdin, env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def lines(self, *args, **kw):
        rc, out, err = self(*args, **kw)
        return rc, [json.loads(x) for x in out.splitlines() if x.strip()], err


def caf(messages_dir):
    path = os.path.join(messages_dir or "", "02-caf-notification.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {
        "idempotencyKey": "ctl-caf",
        "caseRef": "EH-2026-000123",
        "eventType": "EVENT_TYPE_CAF_NOTIFICATION",
        "occurredAt": "2026-01-01T10:00:00Z",
        "cafNotification": {
            "assessmentId": "EHA-2026-0042",
            "children": [{"personId": "P-TEST-1",
                          "dateOfBirth": {"year": 2018, "month": 5,
                                          "day": 4}}],
        },
    }


def run(args, work):
    pki = os.path.join(work, "pki")
    subprocess.run([args.pki_script, pki], check=True,
                   stdout=subprocess.DEVNULL)
    gw = Gateway(os.path.abspath(args.gateway), write_config(work, pki), work)
    ok = False
    try:
        env = dict(os.environ)
        env.update(EHX_GATEWAY=f"localhost:{gw.ports['exchange']}",
                   EHX_ADMIN=f"localhost:{gw.ports['admin']}",
                   EHX_PKI_DIR=pki)
        env.pop("EHX_AGENCY", None)
        ctl = Ctl(os.path.abspath(args.ehxctl), env)

        # Help and usage.
        for cmd in (["--help"], ["publish", "--help"], ["fetch", "--help"],
                    ["ack", "--help"], ["tail", "--help"],
                    ["dead-letters", "list", "--help"],
                    ["dead-letters", "replay", "--help"], ["health", "--help"],
                    ["status", "--help"], ["case", "show", "--help"],
                    ["mailbox", "peek", "--help"], ["purge", "--help"],
                    ["store", "reencrypt", "--help"]):
            rc, out, _ = ctl(*cmd)
            check(rc == 0 and "Usage" in out, f"ehxctl {' '.join(cmd)} -> 0")
        # The offline commands (no gateway): usage names every flag.
        for cmd, flags in (
                (["adapter", "check", "--help"],
                 ["--adapter", "--config", "--agency", "files"]),
                (["adapter", "render", "--help"],
                 ["--adapter", "--config", "--out-dir", "files"]),
                (["audit", "verify", "--help"], ["--public-key", "db"])):
            rc, out, _ = ctl(*cmd)
            check(rc == 0 and "Usage" in out and all(f in out for f in flags),
                  f"ehxctl {' '.join(cmd)} -> 0, names {flags}: {out!r}")
        rc, _, _ = ctl()
        check(rc == 2, "no subcommand -> 2")
        rc, _, _ = ctl("--bogus", "status")
        check(rc == 2, "unknown flag -> 2")
        rc, _, _ = ctl("--agency", "early-help", "ack")
        check(rc == 2, "ack without ids -> 2")

        # Health.
        rc, out, _ = ctl("--agency", "early-help", "health")
        check(rc == 0 and out.strip() == "SERVING", "health -> SERVING")
        rc, out, _ = ctl("health", "--admin-listener")
        check(rc == 0 and out.strip() == "SERVING", "admin health as ops")

        # Publish.
        msg = caf(args.messages)
        good = os.path.join(work, "caf.json")
        with open(good, "w") as f:
            json.dump(msg, f)
        rc, receipts, err = ctl.lines("--agency", "early-help", "publish",
                                      "--fresh-key", good)
        check(rc == 0 and len(receipts) == 1, f"publish -> 0 ({err.strip()})")
        receipt = receipts[0]
        check(set(receipt["recipients"]) >= {"school-oakfield",
                                             "health-visiting"},
              "receipt lists the routed recipients")
        check(receipt.get("duplicate") is False, "receipt prints duplicate")

        # Local JSON errors never echo values.
        broken = dict(msg, occurredAt=FAKE_NAME)
        rc, _, err = ctl("--agency", "early-help", "publish", "-",
                         stdin=json.dumps(broken))
        check(rc == 2 and "occurred_at" in err and FAKE_NAME not in err
              and "Zebedee" not in err,
              "bad timestamp -> 2, names the field, not the value")
        broken = dict(msg, surname=FAKE_NAME)
        rc, _, err = ctl("--agency", "early-help", "publish", "-",
                         stdin=json.dumps(broken))
        check(rc == 2 and "surname" in err and "Zebedee" not in err,
              "unknown field -> 2 without the value")
        rc, _, err = ctl("--agency", "early-help", "publish", "-",
                         stdin='{"caseRef": "' + FAKE_NAME)
        check(rc == 2 and "Zebedee" not in err, "truncated JSON -> 2")
        rc, _, err = ctl("--agency", "early-help", "publish",
                         os.path.join(work, "missing.json"))
        check(rc == 2, "missing file -> 2")

        # Gateway refusals.
        invalid = dict(msg, idempotencyKey="ctl-invalid", caseRef="bad ref!")
        invalid["cafNotification"] = dict(msg["cafNotification"], children=[])
        rc, out, err = ctl("--agency", "early-help", "publish", "-",
                           stdin=json.dumps(invalid))
        check(rc == 3 and "INVALID_ARGUMENT" in err and
              "  case_ref:" in err and
              "  caf_notification.children:" in err,
              "invalid envelope -> 3 with every field violation")
        forged = dict(msg, idempotencyKey="ctl-forged",
                      senderAgency="csc-front-door")
        rc, _, err = ctl("--agency", "early-help", "publish", "-",
                         stdin=json.dumps(forged))
        check(rc == 3 and "PERMISSION_DENIED" in err, "forged sender -> 3")

        # tail as school-oakfield.
        rc, dels, err = ctl.lines("--agency", "school-oakfield", "tail",
                                  "--count", "1", "--timeout", "10")
        check(rc == 0 and len(dels) == 1 and
              dels[0]["envelope"]["messageId"] == receipt["messageId"] and
              dels[0]["envelope"]["senderAgency"] == "early-help",
              f"tail --count 1 gets the message ({err.strip()})")
        rc, dels, err = ctl.lines("--agency", "school-oakfield", "tail",
                                  "--count", "1", "--timeout", "1")
        check(rc == 1 and not dels, "tail acked it: nothing left (exit 1)")

        # fetch --ack as health-visiting.
        rc, dels, _ = ctl.lines("--agency", "health-visiting", "fetch",
                                "--ack")
        check(rc == 0 and any(d["envelope"]["messageId"] ==
                              receipt["messageId"] for d in dels),
              "fetch --ack gets the message")
        rc, dels, _ = ctl.lines("--agency", "health-visiting", "fetch")
        check(rc == 0 and not dels, "fetch after ack: mailbox empty")

        # ack of an unknown id.
        rc, res, _ = ctl.lines("--agency", "health-visiting", "ack", "999999")
        check(rc == 0 and res == [{"applied": 0}], "ack unknown id -> 0 applied")

        # Dead letters: nack permanently, list, replay.
        rc, receipts, _ = ctl.lines("--agency", "early-help", "publish",
                                    "--fresh-key", good)
        check(rc == 0, "second publish")
        rc, dels, _ = ctl.lines("--agency", "health-visiting", "fetch")
        check(rc == 0 and len(dels) == 1, "fetch the second message")
        did = dels[0]["deliveryId"]
        rc, res, _ = ctl.lines("--agency", "health-visiting", "ack", "--nack",
                               "--permanent", "--reason", "ctl_test", did)
        check(rc == 0 and res == [{"applied": 1}], "permanent nack applied")
        rc, dead, _ = ctl.lines("dead-letters", "list", "--agency",
                                "health-visiting")
        check(rc == 0 and [d["deliveryId"] for d in dead] == [did],
              "dead-letters list shows it")
        rc, _, _ = ctl("dead-letters", "replay")
        check(rc == 2, "replay with neither ids nor --all -> 2")
        rc, res, _ = ctl.lines("dead-letters", "replay", did)
        check(rc == 0 and res == [{"replayed": 1}], "dead-letters replay ID")
        rc, peek, _ = ctl.lines("mailbox", "peek", "health-visiting")
        check(rc == 0 and any(d["deliveryId"] == did for d in peek),
              "mailbox peek shows the replayed delivery")

        # Admin: status, case show, permission.
        rc, st, _ = ctl.lines("status")
        check(rc == 0 and st and st[0]["state"].startswith("SERVING"),
              "status as ops")
        rc, _, err = ctl("--agency", "early-help", "status")
        # Refused at the TLS handshake (not an operator certificate).
        check(rc == 4 and "UNAVAILABLE" in err, "status as agency -> 4")
        rc, rec, _ = ctl.lines("case", "show", msg["caseRef"])
        check(rc == 0 and rec and rec[0].get("caseRef") == msg["caseRef"],
              "case show")
        rc, _, err = ctl("case", "show", "NO-SUCH-CASE-1")
        check(rc == 3 and "NO-SUCH-CASE-1" not in err,
              "case show unknown -> 3 without echoing the case ref")

        # Store maintenance (Admin): retention purge and re-encryption.
        rc, pr, _ = ctl.lines("purge")
        check(rc == 0 and pr and "purged" in pr[0], "purge as ops")
        rc, rr, _ = ctl.lines("store", "reencrypt")
        check(rc == 0 and rr and "reencrypted" in rr[0],
              "store reencrypt as ops")
        rc, _, err = ctl("--agency", "early-help", "purge")
        check(rc == 4 and "UNAVAILABLE" in err, "purge as agency -> 4")
        rc, rec, _ = ctl.lines("case", "show", msg["caseRef"])
        check(rc == 0 and rec and rec[0].get("caseRef") == msg["caseRef"],
              "case still readable after purge (no retention rules) and "
              "re-encryption")

        # Bad identities.
        rc, _, _ = ctl("--agency", "early-help", "--cert",
                       os.path.join(pki, "bad", "untrusted.pem"), "--key",
                       os.path.join(pki, "bad", "untrusted.key"), "fetch")
        check(rc == 4, "untrusted client cert -> 4")
        rc, _, _ = ctl("--plaintext-agency", "early-help", "--deadline", "3",
                       "fetch")
        check(rc == 4, "plaintext against a TLS gateway -> 4")
        ok = True
    finally:
        rc = None
        try:
            rc = gw.stop()
        except Failure as e:
            log(f"FAIL: {e}")
            ok = False
        if not ok:
            gw.dump_log()
    check(rc == 0, f"gateway stopped cleanly (exit {rc})")
    rc, _, _ = ctl("--agency", "early-help", "--deadline", "2", "health")
    check(rc == 4, "health with the gateway down -> 4")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gateway", required=True)
    p.add_argument("--ehxctl", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--pki-script", required=True)
    p.add_argument("--messages")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="ehxctl-", dir=os.path.abspath(args.workdir))
    log(f"work dir {work}")
    try:
        run(args, work)
    except Failure as e:
        log(f"FAIL: {e}")
        return 1
    except Exception:
        traceback.print_exc()
        log("FAIL: unexpected exception")
        return 1
    log("PASS")
    if not args.keep:
        subprocess.run(["rm", "-rf", work])
    return 0


if __name__ == "__main__":
    sys.exit(main())
