package main

// -tls: every HTTP/2 scenario but the h2c upgrade over crypto/tls with ALPN
// "h2" (no certificate check), plus scenarios only a TLS port has.

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

var useTLS = flag.Bool("tls", false, "speak TLS (HTTP/2 by ALPN h2), add the tls_* scenarios, drop upgrade")

func scheme() string {
	if *useTLS {
		return "https"
	}
	return "http"
}

// tlsWrap does the handshake on c offering only proto, and checks that the
// server chose it.
func tlsWrap(c net.Conn, proto string) (net.Conn, error) {
	t := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{proto}})
	if err := t.Handshake(); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake: %v", err)
	}
	if p := t.ConnectionState().NegotiatedProtocol; p != proto {
		t.Close()
		return nil, fmt.Errorf("ALPN: got %q, want %s", p, proto)
	}
	return t, nil
}

func tlsScenarios() {
	delete(scenarios, "upgrade") // h2c only
	scenarios["tls_h2_handshake_close"] = h2HandshakeClose
	scenarios["tls_h1_alpn"] = h1ALPN
	scenarios["tls_plain_http"] = plainHTTP
}

func rawDial(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Printf("conn %s\n", c.LocalAddr())
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, nil
}

// tls_h2_handshake_close: ALPN h2 agreed, then closed before the preface.
func h2HandshakeClose(addr string) error {
	cl, err := dial(addr)
	if err != nil {
		return err
	}
	return cl.c.Close()
}

// tls_h1_alpn: the same port with ALPN http/1.1: one HTTP/1.1 request.
func h1ALPN(addr string) error {
	c, err := rawDial(addr)
	if err != nil {
		return err
	}
	if c, err = tlsWrap(c, "http/1.1"); err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: oracle\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}

// tls_plain_http: an HTTP/1.1 request in clear to the TLS port; Go answers
// a plain 400 and closes.
func plainHTTP(addr string) error {
	c, err := rawDial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: oracle\r\n\r\n"); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, c)
	return err
}
