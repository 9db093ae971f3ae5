package main

// -tls: every scenario over crypto/tls (the handshake is part of dial, with
// ALPN "http/1.1" and no certificate check), plus scenarios that only make
// sense against a TLS port: handshakes that fail or never finish. Go's own
// hook prints "new closed" for all of those.

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"time"
)

var useTLS = flag.Bool("tls", false, "speak TLS (HTTP/1.1 by ALPN) and add the tls_* scenarios")

var tlsScenarios = []scenario{
	{"tls_handshake_then_close", nothing},
	{"tls_tcp_only", tcpOnly},
	{"tls_garbage", rawToTLS("HELLO THERE\r\n\r\n")},
	{"tls_plain_http", rawToTLS(get)},
	{"tls_close_in_handshake", closeInHandshake},
}

func tlsConfig() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
}

// tlsWrap does the handshake on c.
func tlsWrap(c net.Conn) (net.Conn, error) {
	t := tls.Client(c, tlsConfig())
	if err := t.Handshake(); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake: %v", err)
	}
	if p := t.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Close()
		return nil, fmt.Errorf("ALPN: got %q, want http/1.1", p)
	}
	return t, nil
}

// rawDial is dial without TLS, for bytes that are not TLS.
func rawDial(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Printf("conn %s\n", c.LocalAddr())
	c.SetDeadline(time.Now().Add(timeout))
	return c, nil
}

// tcpOnly connects and closes without a byte: no handshake at all.
func tcpOnly(addr string) error {
	c, err := rawDial(addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// rawToTLS sends s in clear and reads until the server closes (Go answers
// an HTTP request with a plain-text 400, anything else with an alert).
func rawToTLS(s string) func(string) error {
	return func(addr string) error {
		c, err := rawDial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := io.WriteString(c, s); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, c); err != nil && !isReset(err) {
			return fmt.Errorf("waiting for EOF: %v", err)
		}
		return nil
	}
}

// helloThenClose closes the connection right after the first write (the
// ClientHello), so the server's handshake ends half way.
type helloThenClose struct{ net.Conn }

func (h helloThenClose) Write(b []byte) (int, error) {
	n, err := h.Conn.Write(b)
	// lets the server read the hello and answer before the FIN
	time.Sleep(100 * time.Millisecond)
	h.Conn.Close()
	return n, err
}

func closeInHandshake(addr string) error {
	c, err := rawDial(addr)
	if err != nil {
		return err
	}
	if tls.Client(helloThenClose{c}, tlsConfig()).Handshake() == nil {
		return fmt.Errorf("handshake finished, want it cut")
	}
	return nil
}
