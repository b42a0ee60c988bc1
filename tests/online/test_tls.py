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


# mTLS: a client certificate from [server.certificates] client_cert / client_key (or
# SIMVUE_SERVER_CLIENT_CERTIFICATE), presented to a server that requires one. simvue 2.6.2 reads
# these settings but sends no client certificate; libsimvue presents it (protocol doc §1.8).


@pytest.fixture(scope="module")
def client_cert(site_ca) -> dict[str, Path]:
    d = site_ca["ca"].parent

    def ssl_cmd(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ssl_cmd("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
            "-subj", "/CN=libsimvue test client")
    (d / "client.cnf").write_text("extendedKeyUsage = clientAuth\nbasicConstraints = CA:FALSE\n")
    ssl_cmd("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "client.pem", "-days", "2", "-extfile", "client.cnf")
    (d / "client-with-key.pem").write_text((d / "client.pem").read_text() + (d / "client.key").read_text())
    return {"cert": d / "client.pem", "key": d / "client.key", "both": d / "client-with-key.pem"}


@pytest.fixture
def mtls_server(servers, site_ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(site_ca["cert"], site_ca["key"])
    ctx.load_verify_locations(site_ca["ca"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    return servers(ssl_context=ctx)


@pytest.mark.parametrize("how", ["files", "key_text", "env_combined"])
def test_a_client_certificate_is_presented(exes, mtls_server, site_ca, client_cert, tmp_path, how):
    work = tmp_path / "work"
    work.mkdir()
    certs = f'server_ca_cert = "{site_ca["ca"]}"\n'
    extra = {}
    if how == "files":
        certs += f'client_cert = "{client_cert["cert"]}"\nclient_key = "{client_cert["key"]}"\n'
    elif how == "key_text":
        certs += f'client_cert = "{client_cert["cert"]}"\nclient_key = """{client_cert["key"].read_text()}"""\n'
    else:
        extra["SIMVUE_SERVER_CLIENT_CERTIFICATE"] = str(client_cert["both"])
    (work / "simvue.toml").write_text(f'[server]\nurl = "{mtls_server.url}"\n\n[server.certificates]\n{certs}')
    res = run_program([exes["initfail"], "5", "1"], cwd=work, env=tls_env(tmp_path, mtls_server.url, **extra))
    out = kv(res.stdout)
    assert out.get("init_rc") == "SIMVUE_OK", describe(res)
    assert out.get("close_rc") == "SIMVUE_OK", describe(res)
    assert mtls_server.run(out["run_id"])["status"] == "completed"
    assert "BEGIN" not in res.stdout + res.stderr  # the key never shows


def test_without_a_client_certificate_the_server_refuses_the_connection(exes, mtls_server, site_ca, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "simvue.toml").write_text(
        f'[server]\nurl = "{mtls_server.url}"\n\n[server.certificates]\nserver_ca_cert = "{site_ca["ca"]}"\n')
    res = run_program([exes["initfail"], "5", "1"], cwd=work,
                      env=tls_env(tmp_path, mtls_server.url, SIMVUE_HTTP_RETRIES="1"))
    out = kv(res.stdout)
    assert out.get("init_rc") == "SIMVUE_ERROR_NETWORK", describe(res)
    assert not mtls_server.runs()


def test_a_bad_client_key_is_a_config_error(exes, mtls_server, site_ca, client_cert, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "simvue.toml").write_text(
        f'[server]\nurl = "{mtls_server.url}"\n\n[server.certificates]\nserver_ca_cert = "{site_ca["ca"]}"\n'
        f'client_cert = "{client_cert["cert"]}"\nclient_key = "{site_ca["ca"]}"\n')
    res = run_program([exes["initfail"], "5", "1"], cwd=work, env=tls_env(tmp_path, mtls_server.url))
    out = kv(res.stdout)
    assert out.get("init_rc") == "SIMVUE_ERROR_CONFIG" and "client_key" in out.get("init_msg", ""), describe(res)
