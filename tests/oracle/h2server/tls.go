package main

// -tls: HTTP/2 over TLS as net/http serves it (Server.ServeTLS, its bundled
// HTTP/2 server chosen by ALPN "h2"; "http/1.1" is offered too), with a
// fresh self-signed certificate. net/http's own hook prints every line
// here: "new" at accept, HTTP/2's active/idle, "closed" after ServeConn.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"math/big"
	"net"
	"net/http"
	"time"
)

var useTLS = flag.Bool("tls", false, "serve HTTPS (ALPN h2 and http/1.1) with a self-signed certificate")

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "connstate-oracle"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// serveTLS serves ln until it fails.
func serveTLS(ln net.Listener) error {
	cert, err := selfSigned()
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:   routes(),
		ConnState: hook,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"h2", "http/1.1"},
		},
	}
	return srv.ServeTLS(ln, "", "")
}
