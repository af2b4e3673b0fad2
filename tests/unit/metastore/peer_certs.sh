#!/bin/sh
# Throwaway certificates for the peer TLS unit tests, in DIR: CAs ca and other, n1 and n2
# (signed by ca) and rogue (signed by other), EC P-256, for IP 127.0.0.1, server and client use.
set -e
cd "$1"
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >ext
for ca in ca other; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=$ca" -keyout "$ca.key" -out "$ca.crt"
done
for c in n1:ca n2:ca rogue:other; do
	n=${c%%:*}
	ca=${c#*:}
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$n" \
		-keyout "$n.key" -out "$n.csr"
	openssl x509 -req -in "$n.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -days 2 \
		-extfile ext -out "$n.crt"
done
