"""A real MIT Kerberos KDC for tests: realm, principals and keytabs made in a temporary folder with
Debian's krb5-kdc tools (kdb5_util, krb5kdc, kadmin.local), the KDC on a free port (TCP and UDP)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port, wait_for_port

REALM = "MORTAR.TEST"
TOOLS = ("kdb5_util", "krb5kdc", "kadmin.local", "kinit", "klist")


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None and not Path("/usr/sbin", t).exists()]


def _tool(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


@dataclass
class Kdc:
    dir: Path
    port: int
    process: subprocess.Popen
    env: dict = field(default_factory=dict)  # KRB5_CONFIG and KRB5_KDC_PROFILE for every Kerberos process

    @property
    def krb5_conf(self) -> Path:
        return self.dir / "krb5.conf"

    def kadmin(self, query: str) -> str:
        proc = subprocess.run([_tool("kadmin.local"), "-r", REALM, "-q", query], env={**os.environ, **self.env},
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        if proc.returncode != 0 or "error" in proc.stderr.lower():
            raise RuntimeError(f"kadmin.local -q {query!r}: {proc.stdout}{proc.stderr}")
        return proc.stdout

    def add_principal(self, name: str, keytab: Path | None = None) -> Path | None:
        """Create `name` (no realm: this one) with a random key; export it to `keytab` (appending)."""
        self.kadmin(f"addprinc -randkey {name}@{REALM}")
        if keytab is not None:
            self.kadmin(f"ktadd -k {keytab} {name}@{REALM}")
        return keytab

    def new_key(self, name: str) -> None:
        """Give `name` a new key: keytabs exported before hold a key the KDC no longer uses."""
        self.kadmin(f"cpw -randkey {name}@{REALM}")

    def kinit(self, principal: str, keytab: Path, ccache: Path) -> subprocess.CompletedProcess:
        return subprocess.run([_tool("kinit"), "-kt", str(keytab), "-c", f"FILE:{ccache}", f"{principal}@{REALM}"],
                              env={**os.environ, **self.env}, capture_output=True, text=True, timeout=60)  # fmt: skip

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_kdc(tmp: Path) -> Kdc:
    port = free_port()
    (tmp / "krb5.conf").write_text(f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_realm = false
    dns_lookup_kdc = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    ticket_lifetime = 1h
    forwardable = true

[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{port}
    }}

[domain_realm]
    localhost = {REALM}
""")
    (tmp / "kdc.conf").write_text(f"""[kdcdefaults]
    kdc_ports = {port}
    kdc_tcp_ports = {port}

[realms]
    {REALM} = {{
        database_name = {tmp}/principal
        key_stash_file = {tmp}/stash
        acl_file = {tmp}/kadm5.acl
        max_life = 1h
        max_renewable_life = 1d
    }}

[logging]
    kdc = FILE:{tmp}/kdc.log
""")
    (tmp / "kadm5.acl").write_text("")
    env = {"KRB5_CONFIG": str(tmp / "krb5.conf"), "KRB5_KDC_PROFILE": str(tmp / "kdc.conf")}
    full_env = {**os.environ, **env}
    subprocess.run([_tool("kdb5_util"), "create", "-s", "-r", REALM, "-P", "master-password-for-tests"],
                   env=full_env, check=True, capture_output=True, timeout=120)  # fmt: skip
    with open(tmp / "krb5kdc.out", "wb") as out:
        proc = subprocess.Popen([_tool("krb5kdc"), "-n", "-r", REALM], env=full_env, stdout=out, stderr=subprocess.STDOUT)
    wait_for_port(proc, port, tmp / "krb5kdc.out", "krb5kdc", timeout=30)
    return Kdc(tmp, port, proc, env)
