#!/usr/bin/env python3
"""A loopback proxy in front of moto that fills two CloudFormation gaps for the demo.

moto (5.2) answers DetectStackDrift and UpdateTerminationProtection with HTTP 500, and never
refuses to delete a protected stack. This proxy forwards every request to moto unchanged,
except those calls, which it answers itself:

* UpdateTerminationProtection is remembered per stack; DescribeStacks answers carry it, and
  DeleteStack of a protected stack is refused with AWS's ValidationError.
* DetectStackDrift checks what can be checked against moto's own state: each S3 bucket's
  versioning status against the template's VersioningConfiguration, and whether the bucket
  still exists. Every other resource type is reported NOT_CHECKED, as AWS does for types it
  cannot check. So `aws s3api put-bucket-versioning --versioning-configuration Status=Suspended`
  against the emulator produces a real, visible drift.

It listens on 127.0.0.1 only. Usage: cfn_gaps.py LISTEN_PORT MOTO_URL
"""

import datetime
import http.server
import re
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from xml.sax.saxutils import escape

import boto3
import yaml

NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
MOTO = ""
LOCK = threading.Lock()
PROTECTED = set()  # stack ids
DETECTIONS = {}  # detection id -> result dict


class CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps going past CloudFormation's short-form tags (!Ref, !Sub, ...)."""


def _tagged(loader, tag_suffix, node):
    return {"__tag__": tag_suffix}


CfnLoader.add_multi_constructor("!", _tagged)


def clients():
    # moto does not check signatures: throwaway credentials, never the caller's.
    kw = dict(
        endpoint_url=MOTO,
        region_name="us-east-1",
        aws_access_key_id="cfn-gaps",
        aws_secret_access_key="cfn-gaps",
    )
    return boto3.client("cloudformation", **kw), boto3.client("s3", **kw)


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def respond(action, inner):
    return (
        f'<{action}Response xmlns="{NS}"><{action}Result>{inner}</{action}Result>'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    ).encode()


def error(code, message, status=400):
    body = (
        f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>"
        f"</ErrorResponse>"
    ).encode()
    return status, body


def stack_id(cfn, name_or_id):
    stacks = cfn.describe_stacks(StackName=name_or_id)["Stacks"]
    return stacks[0]["StackId"], stacks[0]["StackName"]


def detect(cfn, s3, name_or_id):
    sid, name = stack_id(cfn, name_or_id)
    template = cfn.get_template(StackName=sid)["TemplateBody"]
    if not isinstance(template, dict):
        template = yaml.load(template, Loader=CfnLoader) or {}
    declared = template.get("Resources", {}) or {}
    drifts = []
    for r in cfn.list_stack_resources(StackName=sid)["StackResourceSummaries"]:
        logical, rtype, physical = (
            r.get("LogicalResourceId", ""),
            r.get("ResourceType", ""),
            r.get("PhysicalResourceId", ""),
        )
        if not logical:  # moto lists resource types it does not model with empty ids
            continue
        entry = dict(logical=logical, type=rtype, physical=physical, status="NOT_CHECKED", diffs=[])
        if rtype == "AWS::S3::Bucket":
            props = (declared.get(logical) or {}).get("Properties") or {}
            expected = (props.get("VersioningConfiguration") or {}).get("Status")
            try:
                actual = s3.get_bucket_versioning(Bucket=physical).get("Status")
                entry["status"] = "IN_SYNC"
                if isinstance(expected, str) and actual != expected:
                    entry["status"] = "MODIFIED"
                    entry["diffs"].append(
                        ("/VersioningConfiguration/Status", expected, actual or "(none)", "NOT_EQUAL")
                    )
            except Exception:  # the bucket is gone
                entry["status"] = "DELETED"
        drifts.append(entry)
    drifted = sum(1 for d in drifts if d["status"] in ("MODIFIED", "DELETED"))
    checked = any(d["status"] != "NOT_CHECKED" for d in drifts)
    status = "DRIFTED" if drifted else ("IN_SYNC" if checked else "NOT_CHECKED")
    return dict(stack_id=sid, name=name, status=status, drifted=drifted, drifts=drifts, at=now())


def drift_member(d, sid):
    diffs = "".join(
        "<member>"
        f"<PropertyPath>{escape(path)}</PropertyPath>"
        f"<ExpectedValue>{escape(exp)}</ExpectedValue>"
        f"<ActualValue>{escape(act)}</ActualValue>"
        f"<DifferenceType>{kind}</DifferenceType>"
        "</member>"
        for path, exp, act, kind in d["diffs"]
    )
    return (
        "<member>"
        f"<StackId>{escape(sid)}</StackId>"
        f"<LogicalResourceId>{escape(d['logical'])}</LogicalResourceId>"
        f"<PhysicalResourceId>{escape(d['physical'])}</PhysicalResourceId>"
        f"<ResourceType>{escape(d['type'])}</ResourceType>"
        f"<StackResourceDriftStatus>{d['status']}</StackResourceDriftStatus>"
        f"<PropertyDifferences>{diffs}</PropertyDifferences>"
        f"<Timestamp>{now()}</Timestamp>"
        "</member>"
    )


def handle(params):
    """Answer the calls moto lacks; None means forward to moto."""
    action = params.get("Action")
    cfn, s3 = clients()
    try:
        if action == "UpdateTerminationProtection":
            sid, _ = stack_id(cfn, params["StackName"])
            with LOCK:
                if params.get("EnableTerminationProtection") == "true":
                    PROTECTED.add(sid)
                else:
                    PROTECTED.discard(sid)
            return 200, respond(action, f"<StackId>{escape(sid)}</StackId>")
        if action == "DeleteStack":
            try:
                sid, name = stack_id(cfn, params["StackName"])
            except Exception:
                return None
            with LOCK:
                protected = sid in PROTECTED
            if protected:
                return error(
                    "ValidationError",
                    f"Stack [{name}] cannot be deleted while TerminationProtection is enabled",
                )
            return None
        if action == "DetectStackDrift":
            result = detect(cfn, s3, params["StackName"])
            detection = str(uuid.uuid4())
            with LOCK:
                DETECTIONS[detection] = result
            return 200, respond(action, f"<StackDriftDetectionId>{detection}</StackDriftDetectionId>")
        if action == "DescribeStackDriftDetectionStatus":
            with LOCK:
                result = DETECTIONS.get(params.get("StackDriftDetectionId"))
            if result is None:
                return error("ValidationError", "no such drift detection")
            return 200, respond(
                action,
                f"<StackId>{escape(result['stack_id'])}</StackId>"
                f"<StackDriftDetectionId>{params['StackDriftDetectionId']}</StackDriftDetectionId>"
                f"<StackDriftStatus>{result['status']}</StackDriftStatus>"
                "<DetectionStatus>DETECTION_COMPLETE</DetectionStatus>"
                f"<DriftedStackResourceCount>{result['drifted']}</DriftedStackResourceCount>"
                f"<Timestamp>{result['at']}</Timestamp>",
            )
        if action == "DescribeStackResourceDrifts":
            result = detect(cfn, s3, params["StackName"])
            members = "".join(drift_member(d, result["stack_id"]) for d in result["drifts"])
            return 200, respond(action, f"<StackResourceDrifts>{members}</StackResourceDrifts>")
    except Exception as e:  # answer like AWS would, never drop the connection
        return error("ValidationError", f"{type(e).__name__}: {e}")
    return None


def mark_protected(body):
    """Set EnableTerminationProtection in a DescribeStacks answer for protected stacks."""
    text = body.decode()
    starts = [m.start() for m in re.finditer(r"<member><StackId>", text)] + [len(text)]
    out, last = [], 0
    for begin, end in zip(starts, starts[1:]):
        block = text[begin:end]
        sid = re.search(r"<StackId>([^<]*)</StackId>", block)
        with LOCK:
            value = "true" if sid and sid.group(1) in PROTECTED else "false"
        block = re.sub(
            r"<EnableTerminationProtection>[^<]*</EnableTerminationProtection>",
            f"<EnableTerminationProtection>{value}</EnableTerminationProtection>",
            block,
        )
        out.append(text[last:begin])
        out.append(block)
        last = end
    out.append(text[last:])
    return "".join(out).encode()


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self, body):
        req = urllib.request.Request(MOTO + self.path, data=body if body else None, method=self.command)
        for k, v in self.headers.items():
            if k.lower() not in ("host", "content-length", "connection"):
                req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.read(), resp.getheaders()
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.items()

    def _any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        params = {}
        if "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        answer = handle(params) if params.get("Version") == "2010-05-15" else None
        if answer is not None:
            status, out = answer
            self._send(status, out, [("Content-Type", "text/xml")])
            return
        status, out, headers = self._forward(body)
        if params.get("Action") == "DescribeStacks" and status == 200:
            out = mark_protected(out)
        self._send(status, out, headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any


def main():
    global MOTO
    port, MOTO = int(sys.argv[1]), sys.argv[2].rstrip("/")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy)
    server.serve_forever()


if __name__ == "__main__":
    main()
