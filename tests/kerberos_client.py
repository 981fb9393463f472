"""Python clients of a Kerberos (SASL GSSAPI) and/or TLS metastore, each run in its own process so that
it reads the Kerberos configuration and ticket cache of its environment (KRB5_CONFIG, KRB5CCNAME).

    python -m tests.kerberos_client MODE HOST PORT [OPTIONS]

MODE: `thrift-sasl` (the thrift package's TSaslClientTransport over pure-sasl and pykerberos),
`pyiceberg` (HiveCatalog with hive.kerberos-authentication), `plain` (no SASL at all). Prints one line of
JSON: the databases it sees (and creates --create first); fails with the client's own error otherwise.
"""

from __future__ import annotations

import argparse
import json
import ssl


def socket_transport(host: str, port: int, cafile: str | None):
    from thrift.transport import TSocket, TSSLSocket

    if cafile:
        ctx = ssl.create_default_context(cafile=cafile)
        return TSSLSocket.TSSLSocket(host, port, ssl_context=ctx, server_hostname=host)
    return TSocket.TSocket(host, port)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["thrift-sasl", "pyiceberg", "plain"])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--service", default="hive")
    parser.add_argument("--sasl-host", help="the host name in the service principal (default HOST)")
    parser.add_argument("--qop", default="auth", help="auth, auth-int or auth-conf")
    parser.add_argument("--create", help="create this database first")
    parser.add_argument("--cafile", help="TLS: trust this certificate")
    args = parser.parse_args()

    if args.mode == "pyiceberg":
        from pyiceberg.catalog.hive import HiveCatalog

        cat = HiveCatalog("k", uri=f"thrift://{args.host}:{args.port}", **{
            "hive.kerberos-authentication": "true", "hive.kerberos-service-name": args.service})  # fmt: skip
        if args.create:
            cat.create_namespace(args.create)
        print(json.dumps(sorted(ns[0] for ns in cat.list_namespaces())))
        return

    from thrift.protocol import TBinaryProtocol

    from metastore.hms.gen.hive import ThriftHiveMetastore
    from metastore.hms.gen.hive.ttypes import Database

    trans = socket_transport(args.host, args.port, args.cafile)
    if args.mode == "thrift-sasl":
        from thrift.transport import TTransport

        trans = TTransport.TSaslClientTransport(trans, args.sasl_host or args.host, args.service, "GSSAPI",
                                                qops=[args.qop.encode()])  # fmt: skip
    else:
        from thrift.transport import TTransport

        trans = TTransport.TBufferedTransport(trans)
    trans.open()
    client = ThriftHiveMetastore.Client(TBinaryProtocol.TBinaryProtocol(trans))
    if args.create:
        client.create_database(Database(name=args.create, description="made over a secured connection",
                                        locationUri=None, parameters={}))  # fmt: skip
    print(json.dumps(sorted(client.get_all_databases())))
    trans.close()


if __name__ == "__main__":
    main()
