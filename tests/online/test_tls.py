"""TLS: the library verifies the server's certificate, and trusts a site CA given as simvue
2.6.2 takes it (SIMVUE_SERVER_CA_CERTIFICATE, [server.certificates] server_ca_cert) or as
Python's requests does (REQUESTS_CA_BUNDLE, SSL_CERT_FILE)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from .helpers import describe, kv, program_env, run_program


@pytest.fixture(scope="module")
def site_ca(tmp_path_factory) -> dict[str, Path]:
    """A private CA and a certificate for 127.0.0.1 signed by it, made with openssl."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("ca")

    def ssl_cmd(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ssl_cmd("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=libsimvue test site CA")
    ssl_cmd("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n")
    ssl_cmd("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return {"ca": d / "ca.pem", "cert": d / "server.pem", "key": d / "server.key"}


@pytest.fixture
def https_server(servers, site_ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(site_ca["cert"], site_ca["key"])
    return servers(ssl_context=ctx)


CA_VARIABLES = ("SIMVUE_SERVER_CA_CERTIFICATE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")


def tls_env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    """The program's environment without the CA variables the machine may set globally."""
    env = program_env(tmp_path / "home", tmp_path / "cache", url)
    for k in CA_VARIABLES:
        env.pop(k, None)
    env.update(extra)
    return env


@pytest.mark.parametrize("how", ["SIMVUE_SERVER_CA_CERTIFICATE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "toml"])
def test_a_site_ca_is_trusted(exes, https_server, site_ca, tmp_path, how):
    extra = {} if how == "toml" else {how: str(site_ca["ca"])}
    env = tls_env(tmp_path, https_server.url, **extra)
    work = tmp_path / "work"
    work.mkdir()
    if how == "toml":
        (work / "simvue.toml").write_text(
            f'[server]\nurl = "{https_server.url}"\ntoken = "unused"\n\n'
            f'[server.certificates]\nserver_ca_cert = "{site_ca["ca"]}"\n')
    res = run_program([exes["initfail"], "20", "1"], cwd=work, env=env)
    out = kv(res.stdout)
    assert out.get("init_rc") == "SIMVUE_OK", describe(res)
    assert out.get("close_rc") == "SIMVUE_OK", describe(res)
    run = https_server.run(out["run_id"])
    assert run["status"] == "completed"
    assert len(https_server.metrics(out["run_id"])) == 20


def test_an_unknown_ca_is_refused_and_nothing_is_sent(exes, https_server, tmp_path):
    env = tls_env(tmp_path, https_server.url, SIMVUE_HTTP_RETRIES="1")
    res = run_program([exes["initfail"], "20", "1"], cwd=tmp_path / "work", env=env)
    out = kv(res.stdout)
    # The certificate is not trusted: nothing reaches the server, the run is kept offline.
    assert out.get("init_rc") == "SIMVUE_ERROR_NETWORK", describe(res)
    assert "certificate" in out.get("init_msg", "").lower() or "tls" in out.get("init_msg", "").lower(), describe(res)
    assert not https_server.runs()
    assert list((tmp_path / "cache" / "runs").glob("*.json")), "the run was recorded offline"
    assert out.get("loop_done") == "20"
