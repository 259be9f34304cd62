#!/usr/bin/env bash
# Makes a throwaway PKI for the tests in directory $1 with the openssl
# command (EC P-256 keys, valid for two days):
#   ca.pem ca.key                 the test CA
#   server.pem server.key         CN=localhost, SAN DNS:localhost, IP:127.0.0.1 (by ca)
#   client.pem client.key         CN=mqttproto-test-client, clientAuth (by ca)
#   other-ca.pem other-ca.key     an unrelated CA
#   other-server.pem/.key         CN=localhost, same SANs, signed by other-ca
#   other-client.pem/.key         CN=intruder, signed by other-ca
#   wrongname.pem/.key            CN=wrong.example, SAN DNS:wrong.example (by ca)
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
OPENSSL=${OPENSSL:-openssl}

key()
{
    "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

ca()
{
    local name=$1 cn=$2
    key "$name.key"
    "$OPENSSL" req -x509 -new -key "$name.key" -subj "/CN=$cn" -days 2 -out "$name.pem" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# leaf NAME CA CN EXTENSIONS...
leaf()
{
    local name=$1 ca=$2 cn=$3
    shift 3
    key "$name.key"
    "$OPENSSL" req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "$@" >"$name.ext"
    "$OPENSSL" x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" \
        -set_serial "0x$("$OPENSSL" rand -hex 8)" -days 2 -extfile "$name.ext" \
        -out "$name.pem" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

ca ca "mqttproto test CA"
ca other-ca "unrelated test CA"
leaf server ca localhost "subjectAltName=DNS:localhost,IP:127.0.0.1" "extendedKeyUsage=serverAuth"
leaf client ca mqttproto-test-client "extendedKeyUsage=clientAuth"
leaf other-server other-ca localhost "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    "extendedKeyUsage=serverAuth"
leaf other-client other-ca intruder "extendedKeyUsage=clientAuth"
leaf wrongname ca wrong.example "subjectAltName=DNS:wrong.example" "extendedKeyUsage=serverAuth"
chmod 600 ./*.key
