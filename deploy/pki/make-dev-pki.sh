#!/usr/bin/env bash
# Makes what a PolyTrain deployment needs to run with TLS and tokens, for development and
# evaluation: a CA, the coordinator's certificate (for the names workers and clients dial), a
# worker client certificate (mutual TLS), one random token per role and the coordinator's tokens
# file holding only their SHA-256 hashes. Production: use your own CA and secret store; the
# files and names below are what the images and manifests expect.
#
#   deploy/pki/make-dev-pki.sh OUT_DIR [EXTRA_SAN...]   e.g. DNS:polytrain.example.com
#
# Writes into OUT_DIR (nothing if OUT_DIR/ca.pem already exists, so it is safe to run at every
# start): ca.pem, coordinator.pem/.key, worker.pem/.key, tokens (for --tokens), and
# client.token, worker.token, admin.token (the secrets, mode 600).
set -euo pipefail
usage() {
  echo "usage: make-dev-pki.sh OUT_DIR [EXTRA_SAN...]   (e.g. DNS:polytrain.example.com)"
  echo "Writes a development CA, the coordinator's and a worker's certificates, one token per"
  echo "role and the coordinator's tokens file into OUT_DIR (nothing if OUT_DIR/ca.pem exists)."
}
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "" | -*) usage >&2; exit 2 ;;
esac
out=$1
shift
mkdir -p "$out"
if [[ -e "$out/ca.pem" ]]; then
  echo "make-dev-pki: $out/ca.pem exists; keeping what is there" >&2
  exit 0
fi
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${key[@]}" -keyout "$work/ca.key" -out "$work/ca.pem" -days 825 \
  -subj /CN=polytrain-dev-ca 2>/dev/null
san="DNS:coordinator,DNS:coordinator.polytrain.svc,DNS:coordinator.polytrain.svc.cluster.local"
san+=",DNS:localhost,IP:127.0.0.1"
for extra in "$@"; do san+=",$extra"; done
sign() {  # name subject-alt-names extended-key-usage
  openssl req "${key[@]}" -keyout "$work/$1.key" -out "$work/$1.csr" -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$2" "$3" >"$work/$1.ext"
  openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -days 825 -out "$work/$1.pem" -extfile "$work/$1.ext" 2>/dev/null
}
sign coordinator "$san" serverAuth
sign worker "DNS:polytrain-worker" clientAuth
{
  echo "# role name sha256:hash — made by make-dev-pki.sh; the tokens themselves are *.token"
  for role in client worker admin; do
    head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$work/$role.token"
    printf '%s dev-%s sha256:%s\n' "$role" "$role" \
      "$(sha256sum <"$work/$role.token" | cut -d' ' -f1)"
  done
} >"$work/tokens"
for f in ca.pem coordinator.pem coordinator.key worker.pem worker.key tokens client.token \
         worker.token admin.token; do
  cp "$work/$f" "$out/$f"
done
chmod 644 "$out/ca.pem" "$out/coordinator.pem" "$out/worker.pem" "$out/tokens"
echo "make-dev-pki: wrote $out (CA, coordinator and worker certificates, 3 tokens)" >&2
