"""A stand-in for the SSM agent, against moto.

moto's SendCommand reports every invocation as an instant success with no output and writes
nothing to CloudWatch Logs. This script plays the agent on one instance: it creates the
instance (with the tags given) and the log group, then polls ListCommands; for each new command
it checks that no forbidden value appears anywhere in the command (its parameters are kept in
SSM's history), runs the command text as AWS-RunShellScript does (written to `_script.sh`, run
with `sh -c` — dash on Debian), and writes
its stdout and stderr to the streams the real agent uses:
``<command-id>/<instance-id>/aws-runShellScript/{stdout,stderr}``.

The instance's ``aws`` CLI is a small shim (``get-parameter`` only) that talks to moto.

usage: ssm_agent.py ENDPOINT REGION LOG_GROUP WORKDIR [--forbid VALUE]... [--tag KEY=VALUE]...
Prints the instance id on its first line. Leaks go to WORKDIR/leaks; ran commands to
WORKDIR/ran. Ends when WORKDIR/stop exists or its parent goes away.
"""

import json
import os
import subprocess
import sys
import time

import boto3

endpoint, region, group, workdir = sys.argv[1:5]
forbidden, tags = [], []
rest = sys.argv[5:]
while rest:
    flag, value, rest = rest[0], rest[1], rest[2:]
    if flag == "--forbid":
        forbidden.append(value)
    elif flag == "--tag":
        key, _, val = value.partition("=")
        tags.append({"Key": key, "Value": val})

session = boto3.session.Session(
    aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
)
ec2 = session.client("ec2", endpoint_url=endpoint)
ssm = session.client("ssm", endpoint_url=endpoint)
logs = session.client("logs", endpoint_url=endpoint)

image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
spec = [{"ResourceType": "instance", "Tags": tags}] if tags else []
instance = ec2.run_instances(
    ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=spec
)["Instances"][0]["InstanceId"]
try:
    logs.create_log_group(logGroupName=group)
except logs.exceptions.ResourceAlreadyExistsException:
    pass

shim_dir = os.path.join(workdir, "bin")
os.makedirs(shim_dir, exist_ok=True)
shim = os.path.join(shim_dir, "aws")
with open(shim, "w") as f:
    f.write(
        f"""#!{sys.executable}
import json, sys, boto3
args = sys.argv[1:]
if args[:2] != ["ssm", "get-parameter"]:
    sys.exit("the test's aws shim knows only ssm get-parameter")
name = args[args.index("--name") + 1]
region = args[args.index("--region") + 1] if "--region" in args else {region!r}
ssm = boto3.client("ssm", endpoint_url={endpoint!r}, region_name=region,
                   aws_access_key_id="testing", aws_secret_access_key="testing")
print(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
described = ssm.describe_parameters(ParameterFilters=[{{"Key": "Name", "Values": [name]}}])
with open({os.path.join(workdir, "parameters")!r}, "a") as f:
    for p in described["Parameters"]:
        f.write(json.dumps({{"Name": p["Name"], "Type": p["Type"], "Tier": p.get("Tier"),
                             "Policies": p.get("Policies", [])}}, default=str) + "\\n")
"""
    )
os.chmod(shim, 0o755)

print(instance, flush=True)

parent = os.getppid()
seen = set()


def put(stream, text):
    if not text:
        return
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    lines = text.splitlines()
    # The real agent batches output: some events carry several lines.
    events, i = [], 0
    while i < len(lines):
        chunk = lines[i : i + (1 if i % 3 else 3)]
        events.append({"timestamp": now, "message": "\n".join(chunk)})
        i += len(chunk)
    for start in range(0, len(events), 500):
        logs.put_log_events(
            logGroupName=group, logStreamName=stream, logEvents=events[start : start + 500]
        )


while not os.path.exists(os.path.join(workdir, "stop")) and os.getppid() == parent:
    for command in ssm.list_commands()["Commands"]:
        cid = command["CommandId"]
        if cid in seen:
            continue
        seen.add(cid)
        whole = json.dumps(command, default=str)
        for value in forbidden:
            if value in whole:
                with open(os.path.join(workdir, "leaks"), "a") as f:
                    f.write(f"{cid}: a forbidden value is in the command\n")
        # As the real agent does: the commands to _script.sh, run with `sh -c <that file>`
        # (sh is dash here, as on Debian and Ubuntu instances).
        script_dir = os.path.join(workdir, "orchestration", cid)
        os.makedirs(script_dir, exist_ok=True)
        script = os.path.join(script_dir, "_script.sh")
        with open(script, "w") as f:
            f.write("\n".join(command["Parameters"]["commands"]))
        os.chmod(script, 0o700)
        env = {
            "PATH": shim_dir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": os.environ.get("HOME", "/root"),
            "AWS_REGION": region,
            "SSM_AGENT_SECRET_ENV": "the agent's own environment",
        }
        done = subprocess.run(
            ["sh", "-c", script], env=env, capture_output=True, text=True, timeout=600
        )
        prefix = f"{cid}/{instance}/aws-runShellScript"
        put(prefix + "/stdout", done.stdout)
        put(prefix + "/stderr", done.stderr)
        with open(os.path.join(workdir, "ran"), "a") as f:
            f.write(f"{cid} {done.returncode}\n")
    time.sleep(0.2)
