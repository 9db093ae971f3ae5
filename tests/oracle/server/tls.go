package main

// -tls: the same server behind crypto/tls, for connstate's Go TLS path.
// A fresh self-signed certificate is made at start (no files to manage);
// ALPN offers only "http/1.1" and TLSNextProto is empty, so net/http never
// speaks HTTP/2 here (the h2 oracle is a separate server).

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

var useTLS = flag.Bool("tls", false, "serve HTTPS (HTTP/1.1 only) with a self-signed certificate")

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

// maybeTLS wraps ln in crypto/tls when -tls is set.
func maybeTLS(ln net.Listener, srv *http.Server) (net.Listener, error) {
	if !*useTLS {
		return ln, nil
	}
	cert, err := selfSigned()
	if err != nil {
		return nil, err
	}
	srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	srv.TLSConfig = &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
	}
	return tls.NewListener(ln, srv.TLSConfig), nil
}
