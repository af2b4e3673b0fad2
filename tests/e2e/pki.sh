# Throwaway certificates for the TLS end-to-end tests, made with the openssl command in the
# test's temp dir; sourced after lib.sh. pki_init sets D, the directory; gen_ca NAME makes an
# EC P-256 CA, gen_cert CA NAME a certificate that CA signs (CN NAME, IP 127.0.0.1, server and
# client use): $D/NAME.crt and $D/NAME.key.

pki_init() {
	command -v openssl >/dev/null || fail "needs openssl (Debian package openssl)"
	D=$E2E_TMP/pki
	mkdir -p "$D"
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >"$D/ext"
}

gen_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=$1" -keyout "$D/$1.key" -out "$D/$1.crt" 2>/dev/null || fail "openssl CA $1"
}

gen_cert() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$2" \
		-keyout "$D/$2.key" -out "$D/$2.csr" 2>/dev/null &&
		openssl x509 -req -in "$D/$2.csr" -CA "$D/$1.crt" -CAkey "$D/$1.key" -CAcreateserial \
			-days 2 -extfile "$D/ext" -out "$D/$2.crt" 2>/dev/null || fail "openssl cert $2"
}
